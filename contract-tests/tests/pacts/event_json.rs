//! Events as the message pacts hold them: the protobuf JSON mapping of the payload, with the
//! `.proto` field names and 64-bit integers as numbers, read through a descriptor pool
//! compiled from `proto/` (the same files the `events` crate is built from).

use std::path::{Path, PathBuf};

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value;

pub struct EventJson(DescriptorPool);

fn proto_files(dir: &Path, root: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            proto_files(&path, root, files);
        } else if path
            .extension()
            .is_some_and(|extension| extension == "proto")
        {
            files.push(path.strip_prefix(root).unwrap().to_owned());
        }
    }
}

impl EventJson {
    pub fn load() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
        let mut files = Vec::new();
        proto_files(&root, &root, &mut files);
        let mut compiler = protox::Compiler::new([&root]).unwrap();
        compiler.include_imports(true).open_files(files).unwrap();
        Self(compiler.descriptor_pool())
    }

    /// The payload message of `event_type` (`order.OrderConfirmed` is
    /// `recommerce.order.v1.OrderConfirmed`).
    fn descriptor(&self, event_type: &str) -> MessageDescriptor {
        let (service, name) = event_type
            .split_once('.')
            .unwrap_or_else(|| panic!("`{event_type}` is not service.Name"));
        let full_name = format!("recommerce.{service}.v1.{name}");
        self.0
            .get_message_by_name(&full_name)
            .unwrap_or_else(|| panic!("proto/ has no {full_name}"))
    }

    /// A published payload as JSON, every field present (a producer that leaves one at its
    /// default shows it so).
    pub fn to_json(&self, event_type: &str, payload: &[u8]) -> Value {
        let message = DynamicMessage::decode(self.descriptor(event_type), payload).unwrap();
        let options = SerializeOptions::new()
            .use_proto_field_name(true)
            .stringify_64_bit_integers(false)
            .skip_default_fields(false);
        message
            .serialize_with_options(serde_json::value::Serializer, &options)
            .unwrap()
    }

    /// A pact's message as the payload bytes a consumer receives.
    pub fn to_payload(&self, event_type: &str, json: &Value) -> Vec<u8> {
        DynamicMessage::deserialize(self.descriptor(event_type), json)
            .unwrap_or_else(|error| panic!("{event_type} {json}: {error}"))
            .encode_to_vec()
    }
}
