//! Keeping requests off members that do not answer.
//!
//! The client balances requests over every endpoint (tonic's balanced channel), and that
//! balancer counts an endpoint whose last connection attempt failed as ready: a request
//! sent there fails with that connection's error (at once for a closed port, after
//! [`Config::connect_timeout`](crate::Config::connect_timeout) for a powered-off machine)
//! and must be retried. With one member of three killed, 3 to 9 of 20 requests failed so
//! in eleven runs (`tests/cluster.rs`, `requests_keep_off_members_that_do_not_answer`).
//!
//! So when a store has several endpoints, [`watch`] asks each member for its status every
//! [`PROBE_INTERVAL`] on a connection of its own, and takes a member that does not answer
//! within the connect timeout [`MISSES`] times in a row out of the balancer, until it
//! answers again. It never takes out the last member in: with every member silent,
//! requests keep trying the last one. A member without a leader still answers its status
//! and stays in; requests to it fail at once with "no leader" and are retried elsewhere.
//! Written here because etcd-client has no health checking, only the means to add and
//! remove endpoints.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tracing::Instrument;

/// How often each member is asked for its status.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How many probes in a row a routed member must miss to be taken out: one slow answer on
/// a loaded machine does not cut the streams open to it.
pub const MISSES: u32 = 2;

/// Which endpoints requests go to: `state[i]` for `endpoints[i]` (as normalized URLs).
#[derive(Debug)]
pub(crate) struct Routes {
    endpoints: Vec<String>,
    state: Mutex<Vec<Route>>,
}

#[derive(Debug, Clone, Copy)]
struct Route {
    routed: bool,
    /// Probes missed in a row.
    missed: u32,
}

impl Routes {
    /// Every endpoint routed.
    pub(crate) fn new(endpoints: Vec<String>) -> Self {
        let first = Route {
            routed: true,
            missed: 0,
        };
        let state = Mutex::new(vec![first; endpoints.len()]);
        Self { endpoints, state }
    }

    /// The endpoints requests go to now.
    pub(crate) fn routed(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.endpoints
            .iter()
            .zip(state.iter())
            .filter(|(_, r)| r.routed)
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// Records a probe of endpoint `i`; what to do with the balancer, if anything.
    fn record(&self, i: usize, answered: bool) -> Option<Change> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let others_routed =
            state.iter().filter(|r| r.routed).count() - usize::from(state[i].routed);
        let route = &mut state[i];
        if answered {
            route.missed = 0;
            if !route.routed {
                route.routed = true;
                return Some(Change::Add);
            }
            return None;
        }
        route.missed = route.missed.saturating_add(1);
        if route.routed && route.missed >= MISSES && others_routed > 0 {
            route.routed = false;
            return Some(Change::Remove);
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Add,
    Remove,
}

/// The URL etcd-client makes of an endpoint given as `host:port` (the scheme added), which
/// is also its key in the balancer.
pub(crate) fn normalize(endpoint: &str, tls: bool) -> String {
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.to_string()
    } else if tls {
        format!("https://{endpoint}")
    } else {
        format!("http://{endpoint}")
    }
}

/// Probes every endpoint of `routes` while `alive` (the store) lives, adding and removing
/// them from `client`'s balancer. `probe_options`: how to connect to one member (without
/// "require leader"); `timeout`: how long a status may take.
pub(crate) fn watch<T: Send + Sync + 'static>(
    alive: Weak<T>,
    client: Client,
    routes: Arc<Routes>,
    probe_options: ConnectOptions,
    timeout: Duration,
) {
    for (i, endpoint) in routes.endpoints.iter().enumerate() {
        let (alive, client, routes) = (alive.clone(), client.clone(), routes.clone());
        let (endpoint, options) = (endpoint.clone(), probe_options.clone());
        let span = tracing::debug_span!("etcd member", endpoint = %endpoint);
        let task = async move {
            let mut probe = None;
            while alive.strong_count() > 0 {
                let answered = tokio::time::timeout(timeout, async {
                    if probe.is_none() {
                        probe = Client::connect([endpoint.as_str()], Some(options.clone()))
                            .await
                            .ok();
                    }
                    match probe.as_mut() {
                        Some(c) => c.status().await.is_ok(),
                        None => false,
                    }
                })
                .await
                .unwrap_or(false);
                match routes.record(i, answered) {
                    Some(Change::Remove) => {
                        tracing::warn!(
                            endpoint = %endpoint,
                            "etcd member does not answer; requests go to the other members"
                        );
                        let _ = client.remove_endpoint(&endpoint).await;
                    }
                    Some(Change::Add) => {
                        tracing::info!(endpoint = %endpoint, "etcd member answers again");
                        let _ = client.add_endpoint(&endpoint).await;
                    }
                    None => {}
                }
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
        };
        tokio::spawn(task.instrument(span));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_missing_probes_is_taken_out_but_never_the_last() {
        let routes = Routes::new(vec!["a".into(), "b".into()]);
        assert_eq!(routes.record(0, false), None, "one miss is not enough");
        assert_eq!(routes.record(0, true), None);
        assert_eq!(routes.record(0, false), None, "the count starts again");
        assert_eq!(routes.record(0, false), Some(Change::Remove));
        assert_eq!(routes.record(0, false), None);
        assert_eq!(routes.record(1, false), None);
        assert_eq!(routes.record(1, false), None, "b is the last one in");
        assert_eq!(routes.routed(), vec!["b".to_string()]);
        assert_eq!(routes.record(0, true), Some(Change::Add));
        assert_eq!(
            routes.record(1, false),
            Some(Change::Remove),
            "b missed 3 in a row"
        );
        assert_eq!(routes.routed(), vec!["a".to_string()]);
    }

    #[test]
    fn endpoints_get_the_scheme_etcd_client_gives_them() {
        assert_eq!(normalize("10.0.0.1:2379", false), "http://10.0.0.1:2379");
        assert_eq!(normalize("10.0.0.1:2379", true), "https://10.0.0.1:2379");
        assert_eq!(normalize("https://e:2379", false), "https://e:2379");
    }
}
