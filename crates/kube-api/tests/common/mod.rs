//! What the API tests share: the API served from the test process (also included by
//! `ironbell-store-kube`'s tests, which serve their own kinds).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use ironbell_kube_api::{ApiConfig, ApiState, Role, Security, ServingCert};
use ironbell_model::KindRegistry;
use ironbell_store::SharedStore;

/// The API served from this process on a loopback port, over a SQLite store in a
/// temporary directory; stopped when dropped.
pub struct Api {
    pub dir: tempfile::TempDir,
    pub store: SharedStore,
    pub security: Arc<Security>,
    pub server: String,
    config: ApiConfig,
    kinds: KindRegistry,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Api {
    /// Serves a new store.
    pub async fn start(config: ApiConfig) -> Self {
        Self::start_with(config, KindRegistry::builtin()).await
    }

    /// Serves a new store with `kinds`.
    pub async fn start_with(config: ApiConfig, kinds: KindRegistry) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: SharedStore = Arc::new(
            ironbell_store_sqlite::SqliteStore::open(dir.path().join("store.db")).expect("store"),
        );
        let security = Arc::new(
            Security::load_or_create(&dir.path().join("api"), &ServingCert::Generated)
                .expect("credentials"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let mut api = Self {
            dir,
            store,
            security,
            server,
            config,
            kinds,
            stop: None,
        };
        api.serve(listener);
        api
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let state = Arc::new(ApiState::new(
            self.store.clone(),
            self.kinds.clone(),
            self.security.clone(),
            self.config.clone(),
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(ironbell_kube_api::serve(listener, state, async {
            let _ = stopped.await;
        }));
        self.stop = Some(stop);
    }

    /// Stops the server (its connections are dropped); the store stays.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Serves the same store again on the same port.
    pub async fn restart(&mut self) {
        self.stop();
        let addr = self.server.trim_start_matches("https://").to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(&addr).await {
                Ok(l) => break l,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("binding {addr} again: {e}"),
            }
        };
        self.serve(listener);
    }

    /// Writes a kubeconfig for `role` (token, or client certificate) and returns its path.
    pub fn kubeconfig(&self, file: &str, role: Role, client_cert: bool) -> PathBuf {
        let text =
            ironbell_kube_api::kubeconfig(&self.server, &self.security, role, client_cert, "plane")
                .expect("kubeconfig");
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// Writes a file in the test's directory; its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop();
    }
}
