//! The fuzz targets' checks (fuzz/fuzz_targets/case.rs) in CI: every regression input found
//! by fuzzing, then a bounded sample of random inputs.

include!("../fuzz/fuzz_targets/case.rs");

use proptest::prelude::*;

#[test]
fn regressions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/regressions exists") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("spp") {
            check_spp(&data);
        } else {
            check_pool(&data);
        }
        count += 1;
    }
    assert!(count > 0, "no regression inputs in {dir}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_pool_cases(data in prop::collection::vec(any::<u8>(), 0..600)) {
        check_pool(&data);
    }

    #[test]
    fn random_spp_cases(data in prop::collection::vec(any::<u8>(), 0..400)) {
        check_spp(&data);
    }
}
