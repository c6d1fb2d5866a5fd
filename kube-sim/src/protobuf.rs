//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl and other
//! client-go programs send for built-in kinds. A body is the `k8s\0` magic followed by a
//! `runtime.Unknown` that names the object's `apiVersion` and `kind` and holds its encoding.
//! The object is decoded with Kubernetes' own protobuf descriptors
//! (`protos/kubernetes-1.33.fds`, made by `protos/generate`) and turned into the JSON the API
//! server would produce from the same Go value: timestamps as RFC 3339, quantities as strings,
//! int-or-string as whichever it holds, `bytes` as base64, and unset (empty) strings left out.
//! Answers are always JSON, which every client also accepts.

use std::sync::LazyLock;

use base64::Engine;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, ReflectMessage, Value as Field,
};
use serde_json::{Map, Value};

/// The media type of a protobuf body.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const DESCRIPTORS: &[u8] = include_bytes!("../protos/kubernetes-1.33.fds");
const MAGIC: &[u8] = b"k8s\0";
const META: &str = "apimachinery.pkg.apis.meta.v1";

static POOL: LazyLock<Result<DescriptorPool, String>> =
    LazyLock::new(|| DescriptorPool::decode(DESCRIPTORS).map_err(|e| e.to_string()));

/// The JSON object a protobuf-encoded body holds, or why it cannot be read.
pub fn to_json(body: &[u8]) -> Result<Value, String> {
    let pool = POOL
        .as_ref()
        .map_err(|e| format!("kube-sim's protobuf descriptors are unreadable: {e}"))?;
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("a protobuf body must start with the 4-byte \"k8s\\0\" prefix")?;
    let unknown = decode(pool, "apimachinery.pkg.runtime.Unknown", envelope)?;
    let text = |message: &DynamicMessage, name: &str| {
        message
            .get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let type_meta = unknown
        .get_field_by_name("typeMeta")
        .and_then(|v| v.as_message().cloned())
        .ok_or("the protobuf envelope has no typeMeta")?;
    let (api_version, kind) = (text(&type_meta, "apiVersion"), text(&type_meta, "kind"));
    let encoding = text(&unknown, "contentEncoding");
    if !encoding.is_empty() {
        return Err(format!("content encoding {encoding:?} is not supported"));
    }
    let raw = unknown
        .get_field_by_name("raw")
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    let message = message_of(pool, &api_version, &kind)
        .ok_or_else(|| format!("{kind} in version {api_version:?} has no protobuf encoding"))?;
    let object = DynamicMessage::decode(message, raw.as_ref())
        .map_err(|e| format!("the {kind} in the protobuf body does not decode: {e}"))?;
    let mut json = Map::new();
    json.insert("apiVersion".into(), Value::String(api_version));
    json.insert("kind".into(), Value::String(kind));
    if let Value::Object(fields) = message_json(&object) {
        json.extend(fields);
    }
    Ok(Value::Object(json))
}

fn decode(pool: &DescriptorPool, name: &str, bytes: &[u8]) -> Result<DynamicMessage, String> {
    let descriptor = pool
        .get_message_by_name(name)
        .ok_or_else(|| format!("kube-sim's protobuf descriptors lack {name}"))?;
    DynamicMessage::decode(descriptor, bytes)
        .map_err(|e| format!("the protobuf envelope does not decode: {e}"))
}

/// The message of `kind` in `apiVersion`: `apps/v1` → `api.apps.v1`, `v1` → `api.core.v1`,
/// `networking.k8s.io/v1` → `api.networking.v1`; options such as `DeleteOptions` live in meta.
fn message_of(pool: &DescriptorPool, api_version: &str, kind: &str) -> Option<MessageDescriptor> {
    let (group, version) = api_version
        .rsplit_once('/')
        .unwrap_or(("core", api_version));
    let package = group.split('.').next().unwrap_or(group);
    pool.get_message_by_name(&format!("api.{package}.{version}.{kind}"))
        .or_else(|| pool.get_message_by_name(&format!("{META}.{kind}")))
}

/// A message as the API server's JSON shows it.
fn message_json(message: &DynamicMessage) -> Value {
    let name = message.descriptor().full_name().to_owned();
    let get = |field: &str| message.get_field_by_name(field).map(|v| v.into_owned());
    let integer = |field: &str| get(field).and_then(|v| v.as_i64().or(v.as_i32().map(i64::from)));
    let string = |field: &str| get(field).and_then(|v| v.as_str().map(str::to_owned));
    match name.strip_prefix("apimachinery.pkg.") {
        Some("apis.meta.v1.Time" | "apis.meta.v1.MicroTime") => {
            let micro = name.ends_with("MicroTime");
            let (seconds, nanos) = (
                integer("seconds").unwrap_or(0),
                integer("nanos").unwrap_or(0),
            );
            timestamp(seconds, nanos, micro)
        }
        Some("apis.meta.v1.Duration") => {
            Value::String(go_duration(integer("duration").unwrap_or(0)))
        }
        Some("api.resource.Quantity") => string("string").map_or(Value::Null, Value::String),
        Some("util.intstr.IntOrString") => match integer("type") {
            Some(1) => Value::String(string("strVal").unwrap_or_default()),
            _ => Value::from(integer("intVal").unwrap_or(0)),
        },
        Some("runtime.RawExtension" | "apis.meta.v1.FieldsV1") => {
            let field = if name.ends_with("FieldsV1") {
                "Raw"
            } else {
                "raw"
            };
            let raw = get(field)
                .and_then(|v| v.as_bytes().cloned())
                .unwrap_or_default();
            serde_json::from_slice(&raw).unwrap_or(Value::Null)
        }
        Some("apis.meta.v1.Verbs") => field_json(&get("items").unwrap_or(Field::List(vec![]))),
        _ => {
            let mut object = Map::new();
            for (field, value) in message.fields() {
                let value = field_json(value);
                if !unset(&value) {
                    object.insert(field.name().to_owned(), value);
                }
            }
            Value::Object(object)
        }
    }
}

/// What Go's `omitempty` drops, and a zero `metav1.Time` (which marshals as `null`).
fn unset(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str() == Some("")
}

fn field_json(value: &Field) -> Value {
    match value {
        Field::Bool(b) => Value::Bool(*b),
        Field::I32(n) | Field::EnumNumber(n) => Value::from(*n),
        Field::I64(n) => Value::from(*n),
        Field::U32(n) => Value::from(*n),
        Field::U64(n) => Value::from(*n),
        Field::F32(n) => Value::from(f64::from(*n)),
        Field::F64(n) => Value::from(*n),
        Field::String(s) => Value::String(s.clone()),
        Field::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Field::Message(message) => message_json(message),
        Field::List(items) => Value::Array(items.iter().map(field_json).collect()),
        Field::Map(entries) => {
            let mut sorted: Vec<(String, Value)> = entries
                .iter()
                .map(|(key, value)| (map_key(key), field_json(value)))
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(sorted.into_iter().collect())
        }
    }
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

/// RFC 3339 in UTC, with microseconds for `MicroTime`; the zero time is unset (`null`).
fn timestamp(seconds: i64, nanos: i64, micro: bool) -> Value {
    if seconds == 0 && nanos == 0 {
        return Value::Null;
    }
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(seconds) else {
        return Value::Null;
    };
    let (date, clock) = (at.date(), at.time());
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        clock.hour(),
        clock.minute(),
        clock.second()
    );
    Value::String(if micro {
        format!("{base}.{:06}Z", nanos / 1_000)
    } else {
        format!("{base}Z")
    })
}

/// Go's `time.Duration.String()` for whole seconds and above (`1h2m3s`, `90s` → `1m30s`).
fn go_duration(nanoseconds: i64) -> String {
    let seconds = nanoseconds / 1_000_000_000;
    if seconds == 0 {
        return format!("{nanoseconds}ns");
    }
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn pool() -> &'static DescriptorPool {
        POOL.as_ref().expect("descriptors")
    }

    /// Encodes `fields` (by name) into `name`, as client-go would.
    fn message(name: &str, fields: &[(&str, Field)]) -> DynamicMessage {
        let descriptor = pool().get_message_by_name(name).expect(name);
        let mut message = DynamicMessage::new(descriptor);
        for (field, value) in fields {
            message.set_field_by_name(field, value.clone());
        }
        message
    }

    fn envelope(api_version: &str, kind: &str, object: &DynamicMessage) -> Vec<u8> {
        let type_meta = message(
            "apimachinery.pkg.runtime.TypeMeta",
            &[
                ("apiVersion", Field::String(api_version.into())),
                ("kind", Field::String(kind.into())),
            ],
        );
        let unknown = message(
            "apimachinery.pkg.runtime.Unknown",
            &[
                ("typeMeta", Field::Message(type_meta)),
                ("raw", Field::Bytes(object.encode_to_vec().into())),
                ("contentEncoding", Field::String(String::new())),
                ("contentType", Field::String(String::new())),
            ],
        );
        [MAGIC, &unknown.encode_to_vec()].concat()
    }

    fn meta(name: &str) -> Field {
        Field::Message(message(
            &format!("{META}.ObjectMeta"),
            &[
                ("name", Field::String(name.into())),
                ("namespace", Field::String(String::new())),
                (
                    "creationTimestamp",
                    Field::Message(message(&format!("{META}.Time"), &[])),
                ),
            ],
        ))
    }

    #[test]
    fn a_namespace_reads_as_the_json_the_api_server_would_show() {
        let namespace = message("api.core.v1.Namespace", &[("metadata", meta("demo"))]);
        let json = to_json(&envelope("v1", "Namespace", &namespace)).expect("decodes");
        assert_eq!(
            json,
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        );
    }

    #[test]
    fn secrets_keep_their_bytes_and_ports_their_int_or_string() {
        let mut data = std::collections::HashMap::new();
        data.insert(
            MapKey::String("token".into()),
            Field::Bytes(b"s3cr\xffet".to_vec().into()),
        );
        let secret = message(
            "api.core.v1.Secret",
            &[("metadata", meta("creds")), ("data", Field::Map(data))],
        );
        let json = to_json(&envelope("v1", "Secret", &secret)).expect("decodes");
        assert_eq!(json["data"]["token"], "czNjcv9ldA==");

        let port = |kind: i64, int: i32, text: &str| {
            Field::Message(message(
                "apimachinery.pkg.util.intstr.IntOrString",
                &[
                    ("type", Field::I64(kind)),
                    ("intVal", Field::I32(int)),
                    ("strVal", Field::String(text.into())),
                ],
            ))
        };
        let ports = Field::List(vec![
            Field::Message(message(
                "api.core.v1.ServicePort",
                &[("port", Field::I32(80)), ("targetPort", port(0, 8080, ""))],
            )),
            Field::Message(message(
                "api.core.v1.ServicePort",
                &[("port", Field::I32(81)), ("targetPort", port(1, 0, "http"))],
            )),
        ]);
        let spec = message("api.core.v1.ServiceSpec", &[("ports", ports)]);
        let service = message(
            "api.core.v1.Service",
            &[("metadata", meta("web")), ("spec", Field::Message(spec))],
        );
        let json = to_json(&envelope("v1", "Service", &service)).expect("decodes");
        assert_eq!(json["spec"]["ports"][0]["targetPort"], 8080);
        assert_eq!(json["spec"]["ports"][1]["targetPort"], "http");
    }

    #[test]
    fn grouped_kinds_quantities_and_times_decode() {
        let limits = std::collections::HashMap::from([(
            MapKey::String("cpu".into()),
            Field::Message(message(
                "apimachinery.pkg.api.resource.Quantity",
                &[("string", Field::String("250m".into()))],
            )),
        )]);
        let resources = message(
            "api.core.v1.ResourceRequirements",
            &[("limits", Field::Map(limits))],
        );
        let container = message(
            "api.core.v1.Container",
            &[
                ("name", Field::String("web".into())),
                ("resources", Field::Message(resources)),
            ],
        );
        let pod_spec = message(
            "api.core.v1.PodSpec",
            &[("containers", Field::List(vec![Field::Message(container)]))],
        );
        let template = message(
            "api.core.v1.PodTemplateSpec",
            &[("spec", Field::Message(pod_spec))],
        );
        let spec = message(
            "api.apps.v1.DeploymentSpec",
            &[
                ("replicas", Field::I32(0)),
                ("template", Field::Message(template)),
            ],
        );
        let deployment = message(
            "api.apps.v1.Deployment",
            &[("metadata", meta("web")), ("spec", Field::Message(spec))],
        );
        let json = to_json(&envelope("apps/v1", "Deployment", &deployment)).expect("decodes");
        let container = &json["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["resources"]["limits"]["cpu"], "250m");
        assert_eq!(json["spec"]["replicas"], 0, "a set zero is kept");

        assert_eq!(
            timestamp(1_700_000_000, 123_456_789, true),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(timestamp(1_700_000_000, 0, false), "2023-11-14T22:13:20Z");
        assert_eq!(go_duration(5_400_000_000_000), "1h30m0s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
    }

    #[test]
    fn bodies_that_are_not_kubernetes_protobuf_say_why() {
        assert!(
            to_json(b"{\"kind\":\"Namespace\"}")
                .unwrap_err()
                .contains("k8s\\0")
        );
        let error = to_json(b"k8s\0\xff\xff").unwrap_err();
        assert!(error.contains("does not decode"), "{error}");
        let namespace = message("api.core.v1.Namespace", &[("metadata", meta("x"))]);
        let error = to_json(&envelope("v1", "Gizmo", &namespace)).unwrap_err();
        assert_eq!(error, "Gizmo in version \"v1\" has no protobuf encoding");
    }
}
