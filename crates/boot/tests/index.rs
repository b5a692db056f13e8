//! The Hardware index against a real SQLite store: initial list, then updates, deletes,
//! adds and duplicate MACs followed through the watch; and the DHCP reservations it makes
//! of the Hardware `ironbell_inventory` writes for `hardware/example.csv`.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ironbell_boot::{Index, MacLookup, parse_mac};
use ironbell_dhcp::{Backend, Reservation};
use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{
    Api, ListParams, ObjectList, Op, Result as StoreResult, SharedStore, Store, StoreError,
    WatchStream,
};
use ironbell_store_sqlite::SqliteStore;

const CP01: [u8; 6] = [0x3c, 0xec, 0xef, 0x10, 0x00, 0x11];
const WK01: [u8; 6] = [0x3c, 0xec, 0xef, 0x10, 0x00, 0x21];
const WK02: [u8; 6] = [0x3c, 0xec, 0xef, 0x10, 0x00, 0x22];

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

/// A store holding every object of the example inventory.
async fn example_store(dir: &tempfile::TempDir) -> SharedStore {
    let store: SharedStore =
        Arc::new(SqliteStore::open(dir.path().join("store.db")).expect("open store"));
    let ops = common::example_objects()
        .iter()
        .map(|o| Op::Create(o.to_dynamic().expect("to_dynamic")))
        .collect();
    store.commit(ops).await.expect("import");
    store
}

/// Polls `cond` until it holds, for at most one second.
async fn within_a_second(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while !cond() {
        assert!(Instant::now() < deadline, "not within a second: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn found(index: &Index, mac: [u8; 6]) -> Option<String> {
    match index.by_mac(mac) {
        MacLookup::Found(m) => Some(m.hardware.name.to_string()),
        _ => None,
    }
}

#[tokio::test]
async fn reservation_of_the_example_inventory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = example_store(&dir).await;
    let index = ironbell_boot::start_index(store).await;

    let mut want = Reservation::new(ip(10, 20, 0, 11), ip(255, 255, 255, 0));
    want.gateway = Some(ip(10, 20, 0, 1));
    want.dns_servers = vec![ip(10, 20, 0, 2), ip(10, 20, 0, 3)];
    want.hostname = Some("eksa-cp01".into());
    want.lease_time = Some(4_294_967_294);
    want.allow_netboot = true;
    assert_eq!(index.lookup(CP01).as_deref(), Some(&want));

    let wk02 = index.lookup(WK02).expect("wk02");
    assert_eq!(wk02.ip, ip(10, 20, 0, 22));
    assert_eq!(wk02.dns_servers, vec![ip(10, 20, 0, 2)]);
    assert!(!wk02.dhcp_disabled);
    assert_eq!(index.lookup([0, 1, 2, 3, 4, 5]), None);

    // Usable as the DHCP server's backend.
    let backend: Arc<dyn Backend> = index.clone();
    assert_eq!(backend.lookup(WK01).map(|r| r.ip), Some(ip(10, 20, 0, 21)));
}

#[tokio::test]
async fn vlan_and_mac_case_from_csv() {
    let csv = common::example_csv().replace("3c:ec:ef:10:00:22", "3C-EC-EF-10-00-22");
    let csv = csv.replacen(",,,,\n", ",,,,42\n", 1);
    let rows = ironbell_inventory::parse(&csv).expect("parse");
    let objects = ironbell_inventory::translate(&rows, "eksa-system");
    let index = Index::from_hardware(objects.hardware);
    let r = index.lookup(WK02).expect("wk02");
    assert_eq!(r.vlan_id, Some(42));
}

#[tokio::test]
async fn follows_updates_deletes_and_adds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = example_store(&dir).await;
    let index = ironbell_boot::start_index(store.clone()).await;
    let api: Api<Hardware> = Api::new(store);
    let ns = "eksa-system";

    assert_eq!(found(&index, CP01).as_deref(), Some("eksa-cp01"));
    assert_eq!(found(&index, WK01).as_deref(), Some("eksa-wk01"));
    let by_ip = index.by_ip(ip(10, 20, 0, 21)).expect("by ip");
    assert_eq!(by_ip.mac, WK01);
    assert_eq!(index.snapshot().hardware_count(), 3);

    // Update: the address moves.
    api.modify(ns, "eksa-wk01", |hw| {
        let dhcp = hw.spec.interfaces.as_mut().expect("ifaces")[0]
            .dhcp
            .as_mut()
            .expect("dhcp");
        dhcp.ip.as_mut().expect("ip").address = Some([10, 20, 0, 99].into());
    })
    .await
    .expect("modify");
    within_a_second("new IP indexed", || {
        index.by_ip(ip(10, 20, 0, 99)).is_some() && index.by_ip(ip(10, 20, 0, 21)).is_none()
    })
    .await;
    assert_eq!(index.lookup(WK01).map(|r| r.ip), Some(ip(10, 20, 0, 99)));

    // Delete.
    api.delete(ns, "eksa-wk02").await.expect("delete");
    within_a_second("deleted", || index.lookup(WK02).is_none()).await;
    assert!(index.by_ip(ip(10, 20, 0, 22)).is_none());

    // Add.
    let base = common::example_hardware().remove(0);
    let new = common::variant(&base, "eksa-wk03", "3c:ec:ef:10:00:23", "10.20.0.23");
    api.create(&new).await.expect("create");
    let wk03 = parse_mac("3c:ec:ef:10:00:23").expect("mac");
    within_a_second("added", || index.lookup(wk03).is_some()).await;
    assert_eq!(
        index.by_ip(ip(10, 20, 0, 23)).map(|m| m.mac),
        Some(wk03),
        "by IP"
    );
    assert_eq!(index.snapshot().hardware_count(), 3);
}

#[tokio::test]
async fn duplicate_mac_is_served_for_neither() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = example_store(&dir).await;
    let index = ironbell_boot::start_index(store.clone()).await;
    let api: Api<Hardware> = Api::new(store);
    assert!(index.lookup(CP01).is_some());

    let base = common::example_hardware().remove(0);
    let dup = common::variant(&base, "eksa-dup", "3C:EC:EF:10:00:11", "10.20.0.50");
    api.create(&dup).await.expect("create duplicate");
    within_a_second("conflict seen", || index.lookup(CP01).is_none()).await;
    match index.by_mac(CP01) {
        MacLookup::Conflict(names) => {
            assert_eq!(names, ["eksa-system/eksa-cp01", "eksa-system/eksa-dup"])
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Neither address of the two is served either.
    assert!(index.by_ip(ip(10, 20, 0, 11)).is_none());
    assert!(index.by_ip(ip(10, 20, 0, 50)).is_none());
    assert_eq!(index.snapshot().mac_conflict_count(), 1);
    // Others are unaffected.
    assert!(index.lookup(WK01).is_some());

    // Removing the duplicate restores the original.
    api.delete("eksa-system", "eksa-dup").await.expect("delete");
    within_a_second("conflict resolved", || {
        found(&index, CP01).as_deref() == Some("eksa-cp01")
    })
    .await;
    assert!(index.by_ip(ip(10, 20, 0, 11)).is_some());
}

/// A store that fails its first watch with `TooOld` and closes the second at once, to make
/// the index list again twice; everything else goes to the real store.
struct Flaky {
    inner: SharedStore,
    lists: AtomicUsize,
    watches: AtomicUsize,
}

#[async_trait::async_trait]
impl Store for Flaky {
    async fn get(&self, t: &TypeKey, ns: &str, name: &str) -> StoreResult<DynamicObject> {
        self.inner.get(t, ns, name).await
    }
    async fn list(&self, t: &TypeKey, p: &ListParams) -> StoreResult<ObjectList> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(t, p).await
    }
    async fn update_status(&self, obj: DynamicObject) -> StoreResult<DynamicObject> {
        self.inner.update_status(obj).await
    }
    async fn commit(&self, ops: Vec<Op>) -> StoreResult<Vec<DynamicObject>> {
        self.inner.commit(ops).await
    }
    async fn watch(
        &self,
        t: &TypeKey,
        p: &ListParams,
        rv: Option<u64>,
    ) -> StoreResult<WatchStream> {
        match self.watches.fetch_add(1, Ordering::SeqCst) {
            0 => Ok(Box::pin(futures::stream::iter([Err(StoreError::TooOld {
                requested: rv.unwrap_or(0),
                oldest: rv.unwrap_or(0) + 1,
            })]))),
            1 => Ok(Box::pin(futures::stream::empty())),
            _ => self.inner.watch(t, p, rv).await,
        }
    }
}

#[tokio::test]
async fn lists_again_after_too_old_and_a_closed_watch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = example_store(&dir).await;
    let flaky = Arc::new(Flaky {
        inner: real.clone(),
        lists: AtomicUsize::new(0),
        watches: AtomicUsize::new(0),
    });
    let index = ironbell_boot::start_index(flaky.clone()).await;
    assert!(index.lookup(CP01).is_some());
    // A change made while the index is between watches is still seen.
    let api: Api<Hardware> = Api::new(real);
    let base = common::example_hardware().remove(0);
    let hw = common::variant(&base, "late", "02:00:00:00:00:01", "10.30.0.1");
    api.create(&hw).await.expect("create");
    within_a_second("change seen after re-lists", || {
        index.lookup([2, 0, 0, 0, 0, 1]).is_some()
    })
    .await;
    within_a_second("third watch is live", || {
        flaky.watches.load(Ordering::SeqCst) >= 3
    })
    .await;
    assert!(
        flaky.lists.load(Ordering::SeqCst) >= 3,
        "listed once per failed watch"
    );
    // And the live third watch keeps following.
    api.delete("eksa-system", "late").await.expect("delete");
    within_a_second("delete seen", || index.lookup([2, 0, 0, 0, 0, 1]).is_none()).await;
}

#[tokio::test]
async fn survives_compaction_and_stops_when_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = example_store(&dir).await;
    let index = ironbell_boot::start_index(store.clone()).await;
    let api: Api<Hardware> = Api::new(store.clone());
    let base = common::example_hardware().remove(0);
    for i in 0..5u8 {
        let hw = common::variant(
            &base,
            &format!("extra-{i}"),
            &format!("02:00:00:00:00:{i:02x}"),
            &format!("10.30.0.{i}"),
        );
        api.create(&hw).await.expect("create");
    }
    store.compact(u64::MAX).await.expect("compact");
    within_a_second("all extras", || index.snapshot().hardware_count() == 8).await;
    assert!(index.lookup([2, 0, 0, 0, 0, 4]).is_some());
    let weak = Arc::downgrade(&index);
    drop(index);
    assert!(
        weak.upgrade().is_none(),
        "the watch task holds no strong reference"
    );
}
