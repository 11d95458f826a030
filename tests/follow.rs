//! Following files: rotation by rename-and-create (the kubelet's way, with
//! the previous generation compressed and deleted, and a writer that keeps
//! appending to the renamed file for a moment) and by copytruncate, 20
//! times each while a writer appends at full speed; new files matching a
//! glob; restarts from a checkpoint after SIGTERM (exact) and SIGKILL
//! (duplicates bounded, none lost).

#![cfg(unix)]

mod common;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const ROTATIONS: u32 = 20;

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// Writes `total` lines of stream 1 to `path` as fast as it can, rotating
/// every `every` bytes with `rotate`, which gets the open file, the
/// rotation number and returns the file to continue with.
fn write_rotating(
    path: &Path,
    total: u64,
    every: u64,
    mut rotate: impl FnMut(File, u32) -> File,
) -> u32 {
    let mut file = append(path);
    let mut written = 0u64;
    let mut rotations = 0;
    let mut n = 0u64;
    while n < total {
        let to = (n + 500).min(total);
        let chunk = lines(1, n, to);
        file.write_all(&chunk).unwrap();
        written += chunk.len() as u64;
        n = to;
        if written >= every && rotations < ROTATIONS {
            rotations += 1;
            file = rotate(file, rotations);
            written = 0;
        }
    }
    rotations
}

fn follow_until_done(
    dir: &Path,
    log: &Path,
    args: &[&str],
    total: u64,
    writer: impl FnOnce(),
) -> Tally {
    // A generation created and rotated away before logscrub even started
    // cannot be followed (start-up takes milliseconds, a load-dependent
    // time in which a full-speed writer rotates whole generations): the
    // writer starts once logscrub holds the file.
    File::create(log).unwrap();
    let mut child = spawn(args, dir);
    let out = Collected::start(child.stdout.take().unwrap());
    wait_until_open(child.id(), log);
    let started = std::time::Instant::now();
    writer();
    eprintln!(
        "writer done after {:?}, {} lines out so far",
        started.elapsed(),
        out.count()
    );
    let got = out.wait_for(total, Duration::from_secs(90));
    eprintln!("{got} lines after {:?}", started.elapsed());
    // Nothing more may come (no duplicates late).
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert!(status.success(), "exit {status:?} at {got} lines");
    tally(&out.finish(), &[(1, total)])
}

#[test]
fn kubelet_rename_rotation_at_full_speed() {
    let dir = temp_dir("follow-rename");
    let log = dir.join("0.log");
    let total = 800_000u64;
    let log_arg = log.to_str().unwrap().to_string();
    let tally = follow_until_done(
        &dir,
        &log,
        &["--input", &log_arg, "--follow", "--threads", "2"],
        total,
        || {
            let mut previous: Option<PathBuf> = None;
            let rotations = write_rotating(&log, total, 2 << 20, |_old, i| {
                let rotated = dir.join(format!("0.log.20261125-1200{i:02}"));
                std::fs::rename(&log, &rotated).unwrap();
                // The previous generation is compressed and deleted.
                if let Some(prev) = previous.replace(rotated) {
                    let gz = prev.with_extension(format!(
                        "{}.gz",
                        prev.extension().unwrap().to_string_lossy()
                    ));
                    std::fs::copy(&prev, gz).unwrap();
                    std::fs::remove_file(&prev).unwrap();
                }
                append(&log)
            });
            assert_eq!(rotations, ROTATIONS);
        },
    );
    assert_eq!(
        (
            tally.lost,
            tally.duplicated,
            tally.reordered,
            tally.leaked,
            tally.foreign
        ),
        (0, 0, 0, 0, 0),
        "{tally:?}\n{}",
        stderr_of(&dir)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn late_writes_to_a_renamed_file_arrive() {
    let dir = temp_dir("follow-late");
    let log = dir.join("app.log");
    let log_arg = log.to_str().unwrap().to_string();
    let mut child = spawn(&["--input", &log_arg, "--follow"], &dir);
    let out = Collected::start(child.stdout.take().unwrap());
    let mut file = append(&log);
    file.write_all(&lines(1, 0, 1000)).unwrap();
    assert_eq!(out.wait_for(1000, Duration::from_secs(10)), 1000);
    std::fs::rename(&log, dir.join("app.log.1")).unwrap();
    let mut new = append(&log);
    new.write_all(&lines(2, 0, 1000)).unwrap();
    // The old writer keeps going for a while after the rename.
    std::thread::sleep(Duration::from_millis(500));
    file.write_all(&lines(1, 1000, 2000)).unwrap();
    let got = out.wait_for(3000, Duration::from_secs(20));
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    let t = tally(&out.finish(), &[(1, 2000), (2, 1000)]);
    assert_eq!(
        (t.lost, t.duplicated, t.reordered),
        (0, 0, 0),
        "{got}: {t:?}"
    );
}

#[test]
fn copytruncate_rotation_at_full_speed() {
    let dir = temp_dir("follow-copytruncate");
    let log = dir.join("app.log");
    let total = 800_000u64;
    let log_arg = log.to_str().unwrap().to_string();
    let tally = follow_until_done(
        &dir,
        &log,
        &["--input", &log_arg, "--follow", "--threads", "2"],
        total,
        || {
            let rotations = write_rotating(&log, total, 2 << 20, |file, i| {
                // Copy, then truncate in place; the writer keeps its handle
                // (O_APPEND, so it writes from offset 0 again).
                std::fs::copy(&log, dir.join(format!("app.log.{i}"))).unwrap();
                file.set_len(0).unwrap();
                file
            });
            assert_eq!(rotations, ROTATIONS);
        },
    );
    // Lines of one file never change order. Under copytruncate, content
    // copied and truncated between two reads is read from its copy when the
    // copy is noticed, possibly late (see SECURITY.md): reported, not failed.
    eprintln!(
        "reordered across generations: {} {:?}",
        tally.reordered, tally.lost_runs
    );
    assert_eq!(
        (tally.lost, tally.duplicated, tally.leaked, tally.foreign),
        (0, 0, 0, 0),
        "{tally:?}\n{}",
        stderr_of(&dir)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn new_files_matching_the_glob_are_picked_up() {
    let dir = temp_dir("follow-glob");
    std::fs::write(dir.join("a.log"), lines(1, 0, 500)).unwrap();
    let pattern = format!("{}/*.log", dir.display());
    let mut child = spawn(&["--input", &pattern, "--follow"], &dir);
    let out = Collected::start(child.stdout.take().unwrap());
    assert_eq!(out.wait_for(500, Duration::from_secs(10)), 500);
    std::fs::write(dir.join("b.log"), lines(2, 0, 700)).unwrap();
    std::fs::write(dir.join("ignored.txt"), lines(3, 0, 10)).unwrap();
    let got = out.wait_for(1200, Duration::from_secs(10));
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    let t = tally(&out.finish(), &[(1, 500), (2, 700)]);
    assert_eq!((t.lost, t.duplicated, t.foreign), (0, 0, 0), "{got}: {t:?}");
}

/// Reads a big file with a checkpoint, stops it mid-stream with `signal`,
/// restarts, and returns the tally of both runs' output together.
fn restart_from_checkpoint(name: &str, signal_name: &str) -> (Tally, u64) {
    let dir = temp_dir(name);
    let log = dir.join("app.log");
    let ckpt = dir.join("state").join("checkpoint.json");
    std::fs::create_dir_all(ckpt.parent().unwrap()).unwrap();
    let total = 1_000_000u64;
    std::fs::write(&log, lines(1, 0, total / 2)).unwrap();
    let args = [
        "--input",
        log.to_str().unwrap(),
        "--follow",
        "--checkpoint",
        ckpt.to_str().unwrap(),
    ];
    let mut first = spawn(&args, &dir);
    let out = Collected::start(first.stdout.take().unwrap());
    out.wait_for(200_000, Duration::from_secs(60));
    signal(&first, signal_name);
    let status = wait_exit(&mut first, Duration::from_secs(20));
    if signal_name == "TERM" {
        assert!(status.success(), "{status:?}");
    }
    let mut output = out.finish();
    // The application keeps writing while logscrub is down.
    let mut file = append(&log);
    file.write_all(&lines(1, total / 2, total)).unwrap();
    let mut second = spawn(&args, &dir);
    let out = Collected::start(second.stdout.take().unwrap());
    let already = tally(&output, &[(1, total)]).total;
    out.wait_for(total - already, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    signal(&second, "TERM");
    assert!(wait_exit(&mut second, Duration::from_secs(20)).success());
    output.extend_from_slice(&out.finish());
    let t = tally(&output, &[(1, total)]);
    eprintln!("{name}: first run wrote {already} lines; {t:?}");
    let _ = std::fs::remove_dir_all(dir);
    (t, already)
}

#[test]
fn sigterm_then_restart_from_checkpoint_is_exact() {
    let (t, _) = restart_from_checkpoint("ckpt-term", "TERM");
    assert_eq!(
        (t.lost, t.duplicated, t.reordered, t.leaked),
        (0, 0, 0, 0),
        "{t:?}"
    );
}

#[test]
fn sigkill_then_restart_from_checkpoint_loses_nothing() {
    let (t, first_run) = restart_from_checkpoint("ckpt-kill", "KILL");
    assert_eq!((t.lost, t.leaked), (0, 0), "{t:?}");
    // Duplicates are lines the first run wrote after its last checkpoint
    // save (at most about a second of output).
    assert!(t.duplicated <= first_run, "{t:?}");
}

/// CPU time (user + system) of process `pid` so far, from /proc/PID/stat.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<u64>().ok())
        .unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

/// Following 500 idle files costs at most 2 % of a core: work is driven by
/// inotify events and proportional to change, with a slow sweep as a
/// safety net. Measured over 3 s after every file was read (the figure is
/// printed; about 0.3 % here, so the bound has a wide margin for a loaded
/// CI machine).
#[test]
fn following_500_idle_files_is_cheap() {
    let dir = temp_dir("idle");
    for i in 0..500 {
        std::fs::write(dir.join(format!("app-{i:03}.log")), line(i, 0)).unwrap();
    }
    let pattern = format!("{}/*.log", dir.display());
    let mut child = spawn(&["--input", &pattern, "--follow"], &dir);
    let out = Collected::start(child.stdout.take().unwrap());
    assert_eq!(out.wait_for(500, Duration::from_secs(30)), 500);
    // Settled: the start-up work is done.
    std::thread::sleep(Duration::from_millis(500));
    let (start, cpu_start) = (std::time::Instant::now(), cpu_time(child.id()));
    std::thread::sleep(Duration::from_secs(3));
    let cpu = cpu_time(child.id()) - cpu_start;
    let share = cpu.as_secs_f64() / start.elapsed().as_secs_f64();
    // Still following: a line appended now comes out.
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("app-250.log"))
        .unwrap()
        .write_all(line(250, 1).as_bytes())
        .unwrap();
    assert_eq!(out.wait_for(501, Duration::from_secs(10)), 501);
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    eprintln!(
        "500 idle followed files: {:.2} % of a core ({cpu:?} CPU in 3 s)",
        share * 100.0
    );
    assert!(share <= 0.02, "{:.2} % of a core", share * 100.0);
}
