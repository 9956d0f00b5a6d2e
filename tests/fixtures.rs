//! Golden fixtures from PyTorch and onnxruntime (written by tools/gen_fixtures.py): ndpool
//! must agree with every case. Max pooling and indices bit for bit; means and norms to the
//! peers' own rounding (they accumulate f32 in f32).

mod common;

use std::collections::HashMap;

use common::{assert_bits, assert_close};
use ndpool::ndarray::{ArrayD, IxDyn};
use ndpool::{Binning, Element, Mode, Padding, PoolSpec, Spp};

struct Case {
    name: String,
    fields: HashMap<String, Vec<String>>,
}

impl Case {
    fn usizes(&self, key: &str) -> Option<Vec<usize>> {
        self.fields
            .get(key)
            .map(|v| v.iter().map(|s| s.parse().unwrap()).collect())
    }
    fn one(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(|v| v[0].as_str())
    }
    fn floats<T: Element>(&self, key: &str) -> Vec<T> {
        self.fields[key]
            .iter()
            .map(|s| T::from(s.parse::<f64>().unwrap()).unwrap())
            .collect()
    }
    fn array<T: Element>(&self, shape_key: &str, key: &str) -> ArrayD<T> {
        ArrayD::from_shape_vec(IxDyn(&self.usizes(shape_key).unwrap()), self.floats(key)).unwrap()
    }
    fn pair(&self, key: &str) -> Option<(usize, usize)> {
        self.usizes(key).map(|v| (v[0], v[1]))
    }

    fn spec(&self, mode: Mode) -> PoolSpec {
        let mut spec = PoolSpec::new(mode, self.pair("kernel").unwrap());
        if let Some(s) = self.pair("stride") {
            spec = spec.stride(s);
        }
        if let Some(p) = self.usizes("pads") {
            spec = spec.padding(Padding::Explicit {
                top: p[0],
                bottom: p[1],
                left: p[2],
                right: p[3],
            });
        }
        match self.one("same") {
            Some("upper") => spec = spec.padding(Padding::Same),
            Some("lower") => spec = spec.padding(Padding::SameLower),
            _ => {}
        }
        if let Some(d) = self.pair("dilation") {
            spec = spec.dilation(d);
        }
        spec = spec.ceil_mode(self.one("ceil") == Some("1"));
        if let Some(c) = self.one("count_include_pad") {
            spec = spec.count_include_pad(c == "1");
        }
        if let Some(d) = self.usizes("divisor") {
            spec = spec.divisor_override(d[0]);
        }
        spec
    }
}

fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut words = line.split(' ');
        let key = words.next().unwrap();
        let rest: Vec<String> = words.map(str::to_owned).collect();
        match key {
            "case" => {
                current = Some(Case {
                    name: rest[0].clone(),
                    fields: HashMap::new(),
                })
            }
            "end" => cases.push(current.take().unwrap()),
            _ => {
                current
                    .as_mut()
                    .unwrap()
                    .fields
                    .insert(key.to_owned(), rest);
            }
        }
    }
    assert!(cases.len() > 100, "{path}: only {} cases", cases.len());
    cases
}

fn check_case<T: Element>(case: &Case) {
    let x: ArrayD<T> = case.array("shape", "input");
    let expected: ArrayD<T> = case.array("output_shape", "output");
    let tol = if std::mem::size_of::<T>() == 4 {
        2e-6
    } else {
        1e-13
    };
    let what = &case.name;
    let op = case.one("op").unwrap();
    let indices = case.usizes("indices");
    match op {
        "max" => {
            let spec = case.spec(Mode::Max);
            let (v, i) = ndpool::max_pool2d_with_indices(&x, &spec).unwrap();
            assert_bits(&v.view(), &expected.view(), what);
            assert_bits(
                &ndpool::pool2d(&x, &spec).unwrap().view(),
                &expected.view(),
                what,
            );
            if let Some(idx) = indices {
                assert_eq!(
                    i.iter().copied().collect::<Vec<_>>(),
                    idx,
                    "{what}: indices"
                );
            }
        }
        "avg" | "lp" => {
            let mode = if op == "avg" {
                Mode::Avg
            } else {
                Mode::Lp(case.floats::<f64>("p")[0])
            };
            let y = ndpool::pool2d(&x, &case.spec(mode)).unwrap();
            assert_close(&y.view(), &expected.view(), tol, what);
        }
        "adaptive_max" | "adaptive_avg" => {
            let out = case.pair("out").unwrap();
            if op == "adaptive_max" {
                let (v, i) = ndpool::adaptive_max_pool2d_with_indices(
                    &x,
                    out,
                    ndpool::Layout::ChannelsFirst,
                )
                .unwrap();
                assert_bits(&v.view(), &expected.view(), what);
                assert_eq!(
                    i.iter().copied().collect::<Vec<_>>(),
                    indices.unwrap(),
                    "{what}: indices"
                );
                let y = ndpool::adaptive_pool2d(&x, out, Mode::Max).unwrap();
                assert_bits(&y.view(), &expected.view(), what);
            } else {
                let y = ndpool::adaptive_pool2d(&x, out, Mode::Avg).unwrap();
                assert_close(&y.view(), &expected.view(), tol, what);
            }
        }
        spp if spp.starts_with("spp_") => {
            let levels = case.usizes("levels").unwrap();
            let mode = if spp.ends_with("max") {
                Mode::Max
            } else {
                Mode::Avg
            };
            let binning = if spp.contains("padded") {
                Binning::Padded
            } else {
                Binning::Adaptive
            };
            let x4 = x.into_dimensionality::<ndpool::ndarray::Ix4>().unwrap();
            let y = Spp::new(levels.iter().copied())
                .mode(mode)
                .binning(binning)
                .forward(&x4)
                .unwrap();
            if mode == Mode::Max {
                assert_bits(&y.into_dyn().view(), &expected.view(), what);
            } else {
                assert_close(&y.into_dyn().view(), &expected.view(), tol, what);
            }
        }
        other => panic!("{what}: unknown op {other}"),
    }
}

fn check_file(file: &str) {
    let cases = load(file);
    for case in &cases {
        match case.one("dtype") {
            Some("f32") => check_case::<f32>(case),
            Some("f64") => check_case::<f64>(case),
            other => panic!("{}: dtype {other:?}", case.name),
        }
    }
    eprintln!("{file}: {} cases agree", cases.len());
}

#[test]
fn agrees_with_pytorch() {
    check_file("pytorch.txt");
}

#[test]
fn agrees_with_onnxruntime() {
    check_file("onnxruntime.txt");
}
