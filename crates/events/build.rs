//! Compiles `proto/` with protox (pure Rust), so building needs no system `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "recommerce/events/v1/envelope.proto",
        "recommerce/catalog/v1/catalog.proto",
        "recommerce/quote/v1/quote.proto",
        "recommerce/order/v1/order.proto",
        "recommerce/fulfilment/v1/fulfilment.proto",
        "recommerce/partner/v1/partner.proto",
    ];
    let descriptors = protox::compile(files, [&proto_root])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={}", proto_root.display());
    Ok(())
}
