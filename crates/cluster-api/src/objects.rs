//! Object helpers every controller here uses: two-step deletion with finalizers (see the
//! crate docs), owner references, the paused check, generic reads of infrastructure objects
//! and the cloning of a `<X>Template` into `<X>`.

use ironbell_capi::api::ObjectReference;
use ironbell_model::{DynamicObject, Labels, ObjectMeta, OwnerReference, Resource, TypeKey};
use ironbell_store::finalizers;
use ironbell_store::{SharedStore, StoreError};
use serde_json::Value;

use crate::kinds::Cluster;
use crate::{
    CLONED_FROM_GROUPKIND_ANNOTATION, CLONED_FROM_NAME_ANNOTATION, Error, PAUSED_ANNOTATION,
};

pub use ironbell_store::finalizers::{Deletion, add_finalizer, has_finalizer};

fn describe(types: &TypeKey, ns: &str, name: &str) -> String {
    format!("{} {ns}/{name}", types.kind)
}

/// [`ironbell_store::finalizers::request_delete`], its error naming the object.
pub async fn request_delete(
    store: &SharedStore,
    types: &TypeKey,
    ns: &str,
    name: &str,
) -> Result<Deletion, Error> {
    finalizers::request_delete(store, types, ns, name)
        .await
        .map_err(Error::store(format!(
            "deleting {}",
            describe(types, ns, name)
        )))
}

/// Adds `finalizer` to `obj` in the store unless it has it.
pub async fn ensure_finalizer<K: Resource>(
    store: &SharedStore,
    obj: &K,
    finalizer: &str,
) -> Result<(), Error> {
    if has_finalizer(obj.metadata(), finalizer) {
        return Ok(());
    }
    let what = format!(
        "adding finalizer {finalizer} to {} {}/{}",
        K::KIND,
        obj.namespace(),
        obj.name()
    );
    let add = |o: &mut K| {
        add_finalizer(o.metadata_mut(), finalizer);
    };
    let api = ironbell_store::api::<K>(store);
    match api.modify(obj.namespace(), obj.name(), add).await {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::store(what)(e)),
    }
}

/// [`remove_finalizer`] for a typed object.
pub async fn drop_finalizer<K: Resource>(
    store: &SharedStore,
    obj: &K,
    finalizer: &str,
) -> Result<Deletion, Error> {
    let types = TypeKey::of::<K>();
    remove_finalizer(store, &types, obj.namespace(), obj.name(), finalizer).await
}

/// [`ironbell_store::finalizers::remove_finalizer`], its error naming the object.
pub async fn remove_finalizer(
    store: &SharedStore,
    types: &TypeKey,
    ns: &str,
    name: &str,
    finalizer: &str,
) -> Result<Deletion, Error> {
    finalizers::remove_finalizer(store, types, ns, name, finalizer)
        .await
        .map_err(Error::store(format!(
            "removing finalizer {finalizer} of {}",
            describe(types, ns, name)
        )))
}

/// [`ironbell_store::finalizers::finish_delete`], its error naming the object.
pub async fn finish_delete(
    store: &SharedStore,
    types: &TypeKey,
    ns: &str,
    name: &str,
) -> Result<Deletion, Error> {
    finalizers::finish_delete(store, types, ns, name)
        .await
        .map_err(Error::store(format!(
            "reading {}",
            describe(types, ns, name)
        )))
}

/// An owner reference to `owner` (with `controller: true` when `controller`).
pub fn owner_ref<K: Resource>(owner: &K, controller: bool) -> OwnerReference {
    OwnerReference {
        api_version: K::API_VERSION.to_string(),
        kind: K::KIND.to_string(),
        name: owner.name().to_string(),
        uid: owner.metadata().uid.clone().unwrap_or_default(),
        controller: controller.then_some(true),
        block_owner_deletion: controller.then_some(true),
    }
}

/// Whether `meta` has an owner reference of kind `K` named `name`.
pub fn owned_by<K: Resource>(meta: &ObjectMeta, name: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == K::KIND && o.name == name)
}

/// The name of `meta`'s owner of kind `K`, if any.
pub fn owner_name<K: Resource>(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == K::KIND)
        .map(|o| o.name.as_str())
}

/// Whether the object is paused: its cluster's `spec.paused`, or the paused annotation on
/// the cluster or on the object.
pub fn is_paused(cluster: Option<&Cluster>, meta: &ObjectMeta) -> bool {
    let annotated = |m: &ObjectMeta| {
        m.annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(PAUSED_ANNOTATION))
    };
    annotated(meta)
        || cluster.is_some_and(|c| c.spec.paused == Some(true) || annotated(&c.metadata))
}

/// The store key of a reference.
pub fn type_key(r: &ObjectReference) -> TypeKey {
    TypeKey::new(r.api_version.clone(), r.kind.clone())
}

/// A field at a `.`-separated path of a dynamic object's body.
pub fn path<'a>(value: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(value, |v, k| v.get(k))
}

/// A dynamic object's body as one JSON value.
pub fn body(obj: &DynamicObject) -> Value {
    Value::Object(
        obj.body
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::from_str(v.get()).ok()?)))
            .collect(),
    )
}

/// The `<X>` kind of an infrastructure template kind `<X>Template`.
pub fn instance_kind(template_kind: &str) -> Option<&str> {
    template_kind
        .strip_suffix("Template")
        .filter(|k| !k.is_empty())
}

/// What [`clone_infrastructure`] makes: an `<X>` named `name` in `ns`, from the template
/// `template` (kind `<X>Template`).
#[derive(Clone, Debug)]
pub struct InfraClone<'a> {
    /// The template reference.
    pub template: &'a ObjectReference,
    /// Namespace of the machine (and of the template when the reference names none).
    pub namespace: &'a str,
    /// Name of the new object (the machine's).
    pub name: &'a str,
    /// Labels of the new object.
    pub labels: Labels,
    /// Its owner (the Machine).
    pub owner: OwnerReference,
}

/// Creates the infrastructure object of a machine from its template's
/// `spec.template.spec` (and `spec.template.metadata` labels and annotations), with the
/// `cloned-from` annotations; an existing one is left as it is. Returns its reference.
pub async fn clone_infrastructure(
    store: &SharedStore,
    c: InfraClone<'_>,
) -> Result<ObjectReference, Error> {
    let template_ns = c.template.namespace.as_deref().unwrap_or(c.namespace);
    let object = format!("{} {template_ns}/{}", c.template.kind, c.template.name);
    let Some(kind) = instance_kind(&c.template.kind) else {
        return Err(Error::Invalid {
            object,
            message: "an infrastructure template's kind must end in `Template`".into(),
        });
    };
    let reference =
        ObjectReference::new(&c.template.api_version, kind, c.name).in_namespace(c.namespace);
    let types = type_key(&reference);
    match store.get(&types, c.namespace, c.name).await {
        Ok(_) => return Ok(reference),
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            return Err(Error::store(format!(
                "reading {kind} {}/{}",
                c.namespace, c.name
            ))(e));
        }
    }
    let template = store
        .get(&type_key(c.template), template_ns, &c.template.name)
        .await
        .map_err(Error::store(format!("reading {object}")))?;
    let tbody = body(&template);
    let spec = path(&tbody, "spec.template.spec")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let mut labels = string_map(path(&tbody, "spec.template.metadata.labels"));
    labels.extend(c.labels);
    let mut annotations = string_map(path(&tbody, "spec.template.metadata.annotations"));
    annotations.insert(CLONED_FROM_NAME_ANNOTATION.into(), c.template.name.clone());
    let group = c
        .template
        .api_version
        .rsplit_once('/')
        .map_or("", |(g, _)| g);
    annotations.insert(
        CLONED_FROM_GROUPKIND_ANNOTATION.into(),
        format!("{}.{group}", c.template.kind),
    );
    let mut meta = ObjectMeta::named(c.namespace, c.name);
    meta.labels = Some(labels);
    meta.annotations = Some(annotations);
    meta.owner_references = Some(vec![c.owner]);
    let mut obj = DynamicObject::new(types, meta);
    obj.set_field("spec", &spec).map_err(|e| Error::Invalid {
        object: object.clone(),
        message: format!("spec.template.spec: {e}"),
    })?;
    match store.create(obj).await {
        Ok(_) => Ok(reference),
        Err(StoreError::AlreadyExists { .. }) => Ok(reference),
        Err(e) => Err(Error::store(format!(
            "creating {kind} {}/{}",
            c.namespace, c.name
        ))(e)),
    }
}

fn string_map(v: Option<&Value>) -> Labels {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `<prefix>-<n>` for `n` one above the highest index among `taken` (0 when none):
/// deterministic, so a controller restarted after a create finds the name taken rather than
/// making a second object; and a name is not reused while a newer machine exists (a rollout
/// deletes the oldest first), so a replacement never takes its predecessor's name.
pub fn next_name<'a>(prefix: &str, taken: impl IntoIterator<Item = &'a str>) -> String {
    let next = taken
        .into_iter()
        .filter_map(|n| {
            n.strip_prefix(prefix)?
                .strip_prefix('-')?
                .parse::<u64>()
                .ok()
        })
        .max()
        .map_or(0, |n| n.saturating_add(1));
    format!("{prefix}-{next}")
}

/// A label selector as text, `k=v,k2=v2` (sorted), as Cluster API writes `status.selector`.
pub fn selector_text(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `InternalIP` addresses of cluster `cluster`'s control-plane `Machine`s in
/// `namespace`, with each machine's name, sorted by address (the machines the native
/// plane's members run on).
pub async fn control_plane_addresses(
    store: &SharedStore,
    namespace: &str,
    cluster: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let (machines, _) = ironbell_store::api::<crate::kinds::Machine>(store)
        .list(&ironbell_store::ListParams::namespace(namespace))
        .await?;
    let of_cluster = |m: &&crate::kinds::Machine| {
        m.metadata.label(crate::CLUSTER_NAME_LABEL) == Some(cluster)
            && m.metadata.label(crate::CONTROL_PLANE_LABEL).is_some()
    };
    let mut found: Vec<(String, String)> = machines
        .iter()
        .filter(of_cluster)
        .flat_map(|m| {
            m.status
                .iter()
                .flat_map(|s| s.addresses.iter())
                .filter(|a| a.type_ == "InternalIP")
                .map(|a| (a.address.clone(), m.name().to_string()))
        })
        .collect();
    found.sort();
    found.dedup();
    Ok(found
        .into_iter()
        .map(|(address, name)| (name, address))
        .collect())
}
