//! Generates the WorkflowService client and server from `proto/workflow.proto` with
//! `protoc` (Debian's `protobuf-compiler`, installed by scripts/setup).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/workflow.proto");
    tonic_prost_build::configure().compile_protos(&["proto/workflow.proto"], &["proto"])?;
    Ok(())
}
