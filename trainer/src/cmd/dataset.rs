//! `trainer dataset <DIR or MANIFEST>`: loads a RAVDESS folder (a directory) or a labelled
//! manifest (a file) and prints its label counts and clip-duration distribution as tables.

use std::fmt::Write as _;

use indicatif::{ProgressBar, ProgressStyle};
use voice_emotion::labels::{Emotion, Intensity};
use voice_emotion::training::dataset::{Dataset, FOLDS, Sex, Split, Summary, actors_of_fold};

use super::CmdResult;

/// Arguments of `trainer dataset`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A RAVDESS folder (Actor_01/ … Actor_24/) or a labelled manifest (TSV with a header
    /// line; columns path, emotion, speaker, optional split and intensity).
    pub input: std::path::PathBuf,
}

/// Loads the dataset, reads every audio header and prints the summary tables.
pub fn run(args: &Args) -> CmdResult {
    let dataset = Dataset::open(&args.input)?;
    let bar = ProgressBar::new(dataset.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("reading audio headers {bar:40} {pos}/{len}") {
        bar.set_style(style);
    }
    let summary = dataset.summary(|done, _| bar.set_position(done as u64));
    bar.finish_and_clear();
    print!("{}", render(&dataset, &summary?));
    Ok(())
}

/// The whole report.
fn render(dataset: &Dataset, summary: &Summary) -> String {
    let c = &summary.counts;
    let pct = |n: usize| format!("{:.1}%", 100.0 * n as f64 / c.total.max(1) as f64);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} clips, {} speakers\n",
        dataset.source(),
        c.total,
        c.by_speaker.len()
    );

    let mut rows: Vec<Vec<String>> = Emotion::ALL
        .iter()
        .map(|e| {
            let n = c.by_emotion[e.index()];
            vec![e.to_string(), n.to_string(), pct(n)]
        })
        .collect();
    rows.push(vec!["total".into(), c.total.to_string(), pct(c.total)]);
    table(&mut out, "lrr", &["emotion", "clips", "share"], &rows);

    let mut rows: Vec<Vec<String>> = Intensity::ALL
        .iter()
        .map(|i| {
            let n = c.by_intensity[i.index()];
            vec![i.to_string(), n.to_string(), pct(n)]
        })
        .collect();
    if c.intensity_unlabelled > 0 {
        let n = c.intensity_unlabelled;
        rows.push(vec!["(unlabelled)".into(), n.to_string(), pct(n)]);
    }
    table(&mut out, "lrr", &["intensity", "clips", "share"], &rows);

    if c.sex_unknown == c.total {
        let rows: Vec<Vec<String>> = c
            .by_speaker
            .iter()
            .map(|(speaker, &n)| vec![speaker.clone(), n.to_string(), pct(n)])
            .collect();
        table(&mut out, "lrr", &["speaker", "clips", "share"], &rows);
    } else {
        let rows: Vec<Vec<String>> = c
            .by_speaker
            .iter()
            .map(|(speaker, &n)| {
                let first = dataset.samples().iter().find(|s| &s.speaker == speaker);
                let sex = first
                    .and_then(|s| s.sex())
                    .map_or("-".into(), |x| x.to_string());
                let fold = first
                    .and_then(|s| s.fold())
                    .map_or("-".into(), |f| f.to_string());
                vec![speaker.clone(), sex, fold, n.to_string()]
            })
            .collect();
        table(
            &mut out,
            "llrr",
            &["speaker", "sex", "fold", "clips"],
            &rows,
        );
    }

    if c.fold_unknown == c.total {
        let _ = writeln!(out, "fold: none (no RAVDESS actor numbers)\n");
    } else {
        let mut by_fold_sex = [[0usize; Sex::COUNT]; FOLDS];
        for s in dataset.samples() {
            if let (Some(f), Some(x)) = (s.fold(), s.sex()) {
                by_fold_sex[f][x.index()] += 1;
            }
        }
        let mut rows: Vec<Vec<String>> = (0..FOLDS)
            .map(|f| {
                let actors = actors_of_fold(f).map_or(String::new(), |r| {
                    format!("{:02}-{:02}", r.start(), r.end())
                });
                vec![
                    f.to_string(),
                    actors,
                    by_fold_sex[f][Sex::Female.index()].to_string(),
                    by_fold_sex[f][Sex::Male.index()].to_string(),
                    c.by_fold[f].to_string(),
                ]
            })
            .collect();
        if c.fold_unknown > 0 {
            let n = c.fold_unknown.to_string();
            rows.push(vec![
                "-".into(),
                "(no actor)".into(),
                "".into(),
                "".into(),
                n,
            ]);
        }
        table(
            &mut out,
            "rlrrr",
            &["fold", "actors", "female", "male", "clips"],
            &rows,
        );
    }

    let mut rows: Vec<Vec<String>> = Split::ALL
        .iter()
        .map(|x| {
            let n = c.by_split[x.index()];
            vec![x.to_string(), n.to_string(), pct(n)]
        })
        .collect();
    let n = c.split_unassigned;
    rows.push(vec!["(unassigned)".into(), n.to_string(), pct(n)]);
    table(&mut out, "lrr", &["split", "clips", "share"], &rows);

    let d = &summary.durations;
    let secs = |v: f64| format!("{v:.2} s");
    let rows = vec![
        vec!["min".into(), secs(d.min), String::new()],
        vec!["median".into(), secs(d.median), String::new()],
        vec!["mean".into(), secs(d.mean), String::new()],
        vec!["max".into(), secs(d.max), String::new()],
        vec![
            "total".into(),
            if d.total_hours() >= 0.1 {
                format!("{:.2} h", d.total_hours())
            } else {
                format!("{:.4} h", d.total_hours())
            },
            format!("({:.1} s in {} clips)", d.total, d.count),
        ],
    ];
    table(&mut out, "lrl", &["duration", "", ""], &rows);
    out.pop(); // the blank line after the last table
    out
}

/// Appends a table, then a blank line. `align` has one letter per column: `l` left-aligns it,
/// anything else right-aligns it (header included).
fn table(out: &mut String, align: &str, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, ((cell, w), a)) in cells.zip(&widths).zip(align.chars()).enumerate() {
            let gap = if i == 0 { "" } else { "  " };
            if a == 'l' {
                let _ = write!(s, "{gap}{cell:<w$}");
            } else {
                let _ = write!(s, "{gap}{cell:>w$}");
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out.push('\n');
}
