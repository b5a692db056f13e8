//! Task bodies that every provider's task list shares, over the store and `NAME/` only:
//! wait for the cluster, write its config, back its objects up around an upgrade, delete
//! it and check that it is gone. Each provider's tasks call these with what only the
//! provider knows (its [`Observe`], the kinds its objects are).

use std::time::Duration;

use ironbell_model::{DynamicObject, KindRegistry, TypeKey};
use ironbell_store::{ListParams, Store};
use serde_json::{Value, json};

use crate::objects::{Applied, CLUSTER_NAME_LABEL};
use crate::plan::names;
use crate::wait::{self, ClusterState, Observe};
use crate::{Context, NAMESPACE, Next, TaskError};

fn failed(what: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(what.to_string())
}

fn io(what: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TaskError {
    let path = path.to_path_buf();
    move |source| TaskError::Io { what, path, source }
}

/// Waits until the cluster is ready (`what` names the wait), then says so at `-v 1`.
pub async fn wait_ready(
    ctx: &Context,
    observe: &dyn Observe,
    timeout: Duration,
    what: &str,
) -> Result<ClusterState, TaskError> {
    let state = wait::until(
        ctx.store().as_ref(),
        ctx.cluster(),
        what,
        timeout,
        ctx.out(),
        observe,
        ClusterState::ready,
    )
    .await?;
    ctx.out()
        .detail(format_args!("Cluster ready: {}", state.summary()));
    Ok(state)
}

/// `write-cluster-config`: the spec with its defaults in `NAME/NAME-eks-a-cluster.yaml`.
pub fn write_cluster_config(ctx: &Context) -> Result<Next, TaskError> {
    let dir = ctx.layout().cluster_dir().to_path_buf();
    let path = dir.join(format!("{}-eks-a-cluster.yaml", ctx.cluster()));
    let yaml = ctx.spec().to_yaml().map_err(failed)?;
    std::fs::write(&path, yaml).map_err(io("writing", &path))?;
    ctx.out().detail(format_args!("Wrote {}", path.display()));
    Ok(Next::proceed())
}

/// The objects of cluster `cluster` among the namespaced kinds of `kinds`: the Cluster API
/// and provider objects labelled with its name.
pub async fn cluster_objects(
    store: &dyn Store,
    kinds: &KindRegistry,
    cluster: &str,
) -> Result<Vec<DynamicObject>, TaskError> {
    let selector =
        ironbell_model::selector::Selector::parse(&format!("{CLUSTER_NAME_LABEL}={cluster}"))
            .map_err(failed)?;
    let mut objects = Vec::new();
    for info in kinds.kinds().filter(|k| k.namespaced) {
        let types: TypeKey = info.type_key();
        let params = ListParams {
            namespace: Some(NAMESPACE.to_string()),
            selector: Some(selector.clone()),
        };
        let list = store.list(&types, &params).await?;
        objects.extend(list.items);
    }
    Ok(objects)
}

/// `pre-cluster-upgrade`: a backup of the cluster's objects in
/// `NAME/NAME-backup-<time>/objects.yaml`; the checkpoint names the folder.
pub async fn backup(
    ctx: &Context,
    kinds: &KindRegistry,
    now_unix_ms: i64,
) -> Result<Next, TaskError> {
    let objects = cluster_objects(ctx.store().as_ref(), kinds, ctx.cluster()).await?;
    let dir =
        ctx.layout()
            .cluster_dir()
            .join(format!("{}-backup-{}", ctx.cluster(), now_unix_ms / 1000));
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let mut text = String::new();
    for o in &objects {
        text.push_str("---\n");
        text.push_str(&serde_yaml_ng::to_string(&o.to_value()).map_err(failed)?);
    }
    let file = dir.join("objects.yaml");
    std::fs::write(&file, text).map_err(io("writing", &file))?;
    ctx.out().detail(format_args!(
        "Backed up {} objects to {}",
        objects.len(),
        dir.display()
    ));
    Ok(Next::proceed_with(
        json!({ "backup": dir.display().to_string() }),
    ))
}

/// `post-cluster-upgrade`: the backup of [`backup`] removed.
pub fn remove_backup(ctx: &Context) -> Result<Next, TaskError> {
    if let Some(dir) = ctx
        .checkpoint_of(names::PRE_CLUSTER_UPGRADE)
        .and_then(|c| c.get("backup"))
        .and_then(Value::as_str)
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(Next::proceed())
}

/// Fails unless cluster `ctx.cluster()` has a `Cluster` in the store (`store` names it).
pub async fn require_cluster(
    ctx: &Context,
    observe: &dyn Observe,
    store: &str,
) -> Result<ClusterState, TaskError> {
    let state = ClusterState::read(ctx.store().as_ref(), ctx.cluster(), observe).await?;
    if state.cluster.is_none() {
        return Err(failed(format!(
            "cluster {} does not exist in the plane's store ({store}); create it first",
            ctx.cluster(),
        )));
    }
    Ok(state)
}

/// `setup-and-validate` of a delete: says at `-v 1` when nothing is left.
pub async fn note_gone(ctx: &Context, observe: &dyn Observe) -> Result<Next, TaskError> {
    let state = ClusterState::read(ctx.store().as_ref(), ctx.cluster(), observe).await?;
    if state.gone() {
        ctx.out().detail(format_args!(
            "Cluster {} has no objects left",
            ctx.cluster()
        ));
    }
    Ok(Next::proceed())
}

/// `validate-delete-workload-success`: fails unless everything of the cluster is gone.
pub async fn check_gone(ctx: &Context, observe: &dyn Observe) -> Result<Next, TaskError> {
    let state = ClusterState::read(ctx.store().as_ref(), ctx.cluster(), observe).await?;
    if state.gone() {
        Ok(Next::proceed())
    } else {
        Err(failed(format!(
            "cluster {} is not gone: {}",
            ctx.cluster(),
            state.summary()
        )))
    }
}

/// Deletes the Cluster and waits (`what` says for what) until its machines are gone and
/// what they held released, then deletes the cluster's objects the Cluster does not own
/// (the templates and the secrets labelled with its name) among `kinds`.
pub async fn delete_cluster(
    ctx: &Context,
    kinds: &KindRegistry,
    observe: &dyn Observe,
    timeout: Duration,
    what: &str,
) -> Result<(), TaskError> {
    use ironbell_cluster_api::kinds::CLUSTER_API_VERSION;
    let types = TypeKey {
        api_version: CLUSTER_API_VERSION.to_string(),
        kind: "Cluster".to_string(),
    };
    let store = ctx.store().clone();
    ironbell_store::finalizers::request_delete(&store, &types, NAMESPACE, ctx.cluster()).await?;
    wait::until(
        store.as_ref(),
        ctx.cluster(),
        what,
        timeout,
        ctx.out(),
        observe,
        ClusterState::gone,
    )
    .await?;
    let left = cluster_objects(store.as_ref(), kinds, ctx.cluster()).await?;
    for o in left {
        match store.delete(&o.types, o.namespace(), o.name(), None).await {
            Ok(_) => ctx
                .out()
                .detail(format_args!("{}/{} deleted", o.types.kind, o.name())),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Applies `objects` ([`crate::objects::apply`]) and says at `-v 1` what was created and
/// what changed.
pub async fn apply(ctx: &Context, objects: &[DynamicObject]) -> Result<Applied, TaskError> {
    let applied = crate::objects::apply(ctx.store().as_ref(), objects)
        .await
        .map_err(failed)?;
    for name in &applied.created {
        ctx.out().detail(format_args!("{name} created"));
    }
    for name in &applied.configured {
        ctx.out().detail(format_args!("{name} configured"));
    }
    Ok(applied)
}

/// The last task of a create: says so.
pub fn created(ctx: &Context) -> Result<Next, TaskError> {
    ctx.out().info("🎉 Cluster created!");
    Ok(Next::proceed())
}

/// The last task of a delete: says so.
pub fn deleted(ctx: &Context) -> Result<Next, TaskError> {
    ctx.out()
        .info(format_args!("🎉 Cluster {} deleted", ctx.cluster()));
    Ok(Next::proceed())
}
