pub fn run_manifest() {}
pub struct Manifest;
