//! lanepool's Rust core side by side with rayon and `std::thread::scope`, in one process run.
//!
//! ```text
//! CARGO_TARGET_DIR=target-bench cargo run --release -p lanepool-benches -- [--json out.json] [--quick]
//! ```
//!
//! Every figure is the median of several runs (the machine may be shared: medians, not means).
//! Ratios are lanepool / rival: below 1.0 means lanepool is faster.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lanepool::batch::{run_plan_async, BatchOptions};
use lanepool::event::{BatchPlan, BatchRecord};
use lanepool::Pool;

mod scope_cases;
use scope_cases::{scope_case, INNER, OUTER, TASKS};

const RECORDS: usize = 10_000;
const GROUPS: usize = 100;
const IO_RECORDS: usize = 100;
const IO_SLEEP: Duration = Duration::from_millis(20);
const IO_CONCURRENCY: usize = 10;

struct Config {
    runs: usize,
    /// Runs of each scope case (about a millisecond each, so more of them).
    scope_runs: usize,
    io_runs: usize,
}

/// Median wall time of `runs` runs of `f` (after warm-up), each given a fresh input from `setup`
/// built outside the timed part.
fn median_with<T>(runs: usize, mut setup: impl FnMut() -> T, mut f: impl FnMut(T)) -> Duration {
    for _ in 0..2 {
        f(setup());
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            f(input);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    median_with(runs, || (), |()| f())
}

/// Median wall times of `runs` runs of each of `cases`, run in turn (one run of each, then again,
/// after two warm-up rounds): contenders measured side by side see the same load.
fn medians_in_turn<const N: usize>(runs: usize, cases: [&dyn Fn(); N]) -> [Duration; N] {
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for round in 0..runs + 2 {
        for (case, times) in cases.iter().zip(times.iter_mut()) {
            let start = Instant::now();
            case();
            if round >= 2 {
                times.push(start.elapsed());
            }
        }
    }
    times.map(|mut t| {
        t.sort();
        t[t.len() / 2]
    })
}

struct Msg {
    id: String,
    group: String,
}

impl BatchRecord for Msg {
    fn item_identifier(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.id))
    }
    fn lane_key(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.group))
    }
}

fn parts(n: usize, groups: usize) -> Vec<(String, Option<String>)> {
    (0..n)
        .map(|i| (format!("msg-{i}"), Some(format!("group-{}", i % groups))))
        .collect()
}

/// One result row: a case, lanepool's figure, and each rival's figure.
struct Row {
    case: &'static str,
    unit: &'static str,
    lanepool: f64,
    rivals: Vec<(&'static str, f64)>,
    goal: Option<String>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json_path = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1).cloned());
    let quick = args.iter().any(|a| a == "--quick");
    let cfg = if quick {
        Config {
            runs: 7,
            scope_runs: 21,
            io_runs: 3,
        }
    } else {
        Config {
            runs: 31,
            scope_runs: 201,
            io_runs: 5,
        }
    };

    let workers = Pool::default_workers();
    let pool = Pool::new(workers).expect("pool");
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("rayon pool");
    println!(
        "lanepool Rust benches: {workers} workers (lanepool's caller also helps; rayon's waits); \
         median of {} runs ({} for the scope cases, run in turn; {} for I/O)",
        cfg.runs, cfg.scope_runs, cfg.io_runs
    );
    let mut rows: Vec<Row> = Vec::new();
    let n = AtomicUsize::new(0);

    // 1 and 2: the scope cases. The contenders take turns run by run (lanepool, rayon,
    // std, lanepool, ...), so that a burst of load on a shared machine hits all of them alike.
    let threads = workers + 1;
    let flat_lanepool = || scope_case!(pool, false, n);
    let flat_rayon = || scope_case!(rayon_pool, false, n);
    let flat_std = || {
        std::thread::scope(|s| {
            for t in 0..threads {
                let n = &n;
                s.spawn(move || {
                    for _ in (t..TASKS).step_by(threads) {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        })
    };
    let [lp, ry, st] = medians_in_turn(cfg.scope_runs, [&flat_lanepool, &flat_rayon, &flat_std]);
    rows.push(Row {
        case: "scope: 10,000 empty tasks",
        unit: "ms",
        lanepool: ms(lp),
        rivals: vec![
            ("rayon::scope", ms(ry)),
            ("std::thread::scope+chunks", ms(st)),
        ],
        goal: Some("ratio vs rayon <= 1.0".into()),
    });

    let nested_lanepool = || scope_case!(pool, true, n);
    let nested_rayon = || scope_case!(rayon_pool, true, n);
    let nested_std = || {
        std::thread::scope(|s| {
            for t in 0..threads {
                let n = &n;
                s.spawn(move || {
                    for _ in (t..OUTER).step_by(threads) {
                        for _ in 0..INNER {
                            n.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        })
    };
    let [lp, ry, st] = medians_in_turn(
        cfg.scope_runs,
        [&nested_lanepool, &nested_rayon, &nested_std],
    );
    rows.push(Row {
        case: "scope: 100 tasks x 100 nested",
        unit: "ms",
        lanepool: ms(lp),
        rivals: vec![
            ("rayon::scope", ms(ry)),
            ("std::thread::scope+chunks", ms(st)),
        ],
        goal: Some("ratio vs rayon <= 1.0".into()),
    });

    // 3. Lanes: 10,000 records in 100 groups, trivial handler. Per-record overhead in ns,
    // including building the plan (lane interning) from identifiers and keys.
    let options = BatchOptions::new().concurrency(workers);
    let per_rec = |d: Duration| d.as_secs_f64() * 1e9 / RECORDS as f64;
    let sink = AtomicUsize::new(0);
    let lp_plan = median_with(
        cfg.runs,
        || parts(RECORDS, GROUPS),
        |p| {
            let plan = BatchPlan::from_parts(None, p);
            let report = pool
                .run_plan(plan, &options, |t, _| {
                    sink.fetch_add(black_box(t.index) & 1, Ordering::Relaxed);
                    Ok::<(), ()>(())
                })
                .unwrap();
            black_box(report);
        },
    );
    let msgs: Vec<Msg> = (0..RECORDS)
        .map(|i| Msg {
            id: format!("msg-{i}"),
            group: format!("group-{}", i % GROUPS),
        })
        .collect();
    let lp_process = median(cfg.runs, || {
        let report = pool
            .process(&msgs, &options, |m| {
                sink.fetch_add(black_box(m.id.len()) & 1, Ordering::Relaxed);
                Ok::<(), ()>(())
            })
            .unwrap();
        black_box(report);
    });
    let async_options = BatchOptions::new().concurrency(IO_CONCURRENCY);
    let lp_async = median_with(
        cfg.runs,
        || parts(RECORDS, GROUPS),
        |p| {
            let plan = BatchPlan::from_parts(None, p);
            let report = futures::executor::block_on(run_plan_async(plan, &async_options, |t| {
                let sink = &sink;
                async move {
                    sink.fetch_add(black_box(t.index) & 1, Ordering::Relaxed);
                    Ok::<(), ()>(())
                }
            }))
            .unwrap();
            black_box(report);
        },
    );
    // Hand-rolled rival: group by key in a HashMap, then one rayon task per group running its
    // records in order (no skip-on-failure, no report, no deadline: a lower bound).
    let ry_groups = median_with(
        cfg.runs,
        || parts(RECORDS, GROUPS),
        |p| {
            let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, (_, lane)) in p.iter().enumerate() {
                groups.entry(lane.clone().unwrap()).or_default().push(i);
            }
            let sink = &sink;
            rayon_pool.scope(|s| {
                for (_, members) in groups {
                    s.spawn(move |_| {
                        for i in members {
                            sink.fetch_add(black_box(i) & 1, Ordering::Relaxed);
                        }
                    });
                }
            });
            black_box(p);
        },
    );
    rows.push(Row {
        case: "lanes: Pool::run_plan, 10k rec/100 groups",
        unit: "ns/record",
        lanepool: per_rec(lp_plan),
        rivals: vec![("rayon group-by (no report)", per_rec(ry_groups))],
        goal: Some("< 1000 ns/record".into()),
    });
    rows.push(Row {
        case: "lanes: Pool::process (typed records)",
        unit: "ns/record",
        lanepool: per_rec(lp_process),
        rivals: vec![("rayon group-by (no report)", per_rec(ry_groups))],
        goal: Some("< 1000 ns/record".into()),
    });
    rows.push(Row {
        case: "lanes: run_plan_async (block_on), c=10",
        unit: "ns/record",
        lanepool: per_rec(lp_async),
        rivals: vec![("rayon group-by (no report)", per_rec(ry_groups))],
        goal: Some("< 1000 ns/record".into()),
    });

    // 4. I/O-like: 100 records sleeping 20 ms at concurrency 10; ideal 200 ms.
    let ideal = IO_SLEEP * (IO_RECORDS / IO_CONCURRENCY) as u32;
    let io_pool = Pool::new(IO_CONCURRENCY).expect("io pool");
    let io_rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(IO_CONCURRENCY)
        .build()
        .expect("rayon io pool");
    let io_options = BatchOptions::new().concurrency(IO_CONCURRENCY);
    let lp_io_sync = median_with(
        cfg.io_runs,
        || parts(IO_RECORDS, IO_RECORDS), // every record its own lane: unconstrained
        |p| {
            let plan = BatchPlan::from_parts(None, p);
            io_pool
                .run_plan(plan, &io_options, |_, _| {
                    std::thread::sleep(IO_SLEEP);
                    Ok::<(), ()>(())
                })
                .unwrap();
        },
    );
    let lp_io_async = median_with(
        cfg.io_runs,
        || parts(IO_RECORDS, IO_RECORDS),
        |p| {
            let plan = BatchPlan::from_parts(None, p);
            futures::executor::block_on(run_plan_async(plan, &io_options, |_| async {
                lanepool::timer::sleep(IO_SLEEP).await;
                Ok::<(), ()>(())
            }))
            .unwrap();
        },
    );
    let ry_io = median(cfg.io_runs, || {
        io_rayon.scope(|s| {
            for _ in 0..IO_RECORDS {
                s.spawn(|_| std::thread::sleep(IO_SLEEP));
            }
        })
    });
    let st_io = median(cfg.io_runs, || {
        std::thread::scope(|s| {
            for t in 0..IO_CONCURRENCY {
                s.spawn(move || {
                    for _ in (t..IO_RECORDS).step_by(IO_CONCURRENCY) {
                        std::thread::sleep(IO_SLEEP);
                    }
                });
            }
        })
    });
    let io_rivals = vec![
        ("ideal", ms(ideal)),
        ("rayon::scope (10 threads)", ms(ry_io)),
        ("std::thread::scope (10)", ms(st_io)),
    ];
    rows.push(Row {
        case: "I/O: 100 x 20 ms, c=10, Pool::run_plan",
        unit: "ms",
        lanepool: ms(lp_io_sync),
        rivals: io_rivals.clone(),
        goal: Some("within 10% of ideal 200 ms".into()),
    });
    rows.push(Row {
        case: "I/O: 100 x 20 ms, c=10, run_plan_async",
        unit: "ms",
        lanepool: ms(lp_io_async),
        rivals: io_rivals,
        goal: Some("within 10% of ideal 200 ms".into()),
    });

    // Table.
    println!();
    println!(
        "{:<42} {:>10} {:>10}  {:<28} {:>10} {:>7}",
        "case", "unit", "lanepool", "rival", "rival", "ratio"
    );
    for row in &rows {
        for (i, (name, value)) in row.rivals.iter().enumerate() {
            let (case, unit, lp) = if i == 0 {
                (row.case, row.unit, format!("{:.3}", row.lanepool))
            } else {
                ("", "", String::new())
            };
            println!(
                "{:<42} {:>10} {:>10}  {:<28} {:>10.3} {:>7.2}",
                case,
                unit,
                lp,
                name,
                value,
                row.lanepool / value
            );
        }
    }
    println!();
    let scope_ratio = rows[0].lanepool / rows[0].rivals[0].1;
    let nested_ratio = rows[1].lanepool / rows[1].rivals[0].1;
    let lane_ns = rows[2].lanepool;
    let io_sync = rows[5].lanepool / ms(ideal);
    let io_async = rows[6].lanepool / ms(ideal);
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "goals: scope vs rayon {:.2} ({}), nested vs rayon {:.2} ({}), lanes {:.0} ns/record ({}), \
         I/O sync {:.3}x ideal ({}), I/O async {:.3}x ideal ({})",
        scope_ratio,
        verdict(scope_ratio <= 1.0),
        nested_ratio,
        verdict(nested_ratio <= 1.0),
        lane_ns,
        verdict(lane_ns < 1000.0),
        io_sync,
        verdict(io_sync <= 1.1),
        io_async,
        verdict(io_async <= 1.1),
    );

    if let Some(path) = json_path {
        let mut out = String::new();
        let _ = write!(
            out,
            "{{\"face\":\"rust\",\"workers\":{workers},\"runs\":{},\"io_runs\":{},\"rows\":[",
            cfg.runs, cfg.io_runs
        );
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"case\":\"{}\",\"unit\":\"{}\",\"lanepool\":{:.4},\"goal\":{},\"rivals\":[",
                row.case,
                row.unit,
                row.lanepool,
                row.goal
                    .as_ref()
                    .map_or("null".to_string(), |g| format!("\"{g}\""))
            );
            for (j, (name, value)) in row.rivals.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    "{{\"name\":\"{name}\",\"value\":{value:.4},\"ratio\":{:.4}}}",
                    row.lanepool / value
                );
            }
            out.push_str("]}");
        }
        out.push_str("]}\n");
        std::fs::write(&path, out).expect("write json");
        println!("wrote {path}");
    }
}
