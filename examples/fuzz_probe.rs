include!("../fuzz/fuzz_targets/case.rs");
fn main() {
    if let Some(path) = std::env::args().nth(1) {
        describe(&std::fs::read(path).unwrap());
        return;
    }
    let mut state = 12345u64;
    for i in 0..20000 {
        let len = 1 + (i % 500);
        let data: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write("/tmp/mb/last_case", &data).unwrap();
        let t = std::time::Instant::now();
        check_pool(&data);
        if t.elapsed().as_millis() > 200 {
            eprintln!("slow case {i}: {} ms", t.elapsed().as_millis());
        }
    }
    println!("done");
}
#[allow(dead_code)]
fn describe(data: &[u8]) {
    let mut b = Bytes::new(data);
    let s = spec(&mut b);
    let sh = shape(&mut b);
    println!("{s:?} {sh:?}");
}
