//! PNG charts of a training run (plotters, drawn into memory and encoded with `png`): the
//! training curves and the confusion matrix.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use voice_emotion::labels::Emotion;
use voice_emotion::training::EpochMetrics;

type PlotResult = Result<(), Box<dyn std::error::Error>>;
/// One line of the training curves: the figure it reads from each epoch.
type Series = fn(&EpochMetrics) -> f64;

/// The font every chart uses, embedded so charts look the same on every machine
/// (DejaVu Sans, licence in `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            tracing::warn!("the embedded chart font did not load; charts will have no text");
        }
    });
}

/// Draws with `draw` onto a white `width x height` canvas and writes it to `path` as PNG.
fn render(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> PlotResult,
) -> PlotResult {
    register_font();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    let file =
        std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgb)?;
    Ok(())
}

/// Loss and accuracy per epoch, train and validation, with the selected epoch marked.
pub fn training_curves(
    path: &Path,
    title: &str,
    history: &[EpochMetrics],
    best_epoch: usize,
) -> PlotResult {
    render(path, (1200, 520), |root| {
        let root = root.titled(title, (FAMILY, 24))?;
        let (left, right) = root.split_horizontally(600);
        let epochs = history.len().max(2) as f64;
        let max_loss = history
            .iter()
            .map(|m| m.train_loss.max(m.valid_loss))
            .fold(0.0f64, f64::max)
            .max(0.1)
            * 1.05;
        let panels: [(&DrawingArea<_, _>, &str, f64, [Series; 2]); 2] = [
            (
                &left,
                "loss",
                max_loss,
                [|m| m.train_loss, |m| m.valid_loss],
            ),
            (
                &right,
                "emotion accuracy",
                1.0,
                [|m| m.train_accuracy, |m| m.valid_accuracy],
            ),
        ];
        for (area, name, top, [train, valid]) in panels {
            let mut chart = ChartBuilder::on(area)
                .margin(16)
                .caption(name, (FAMILY, 20))
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(1.0..epochs, 0.0..top)?;
            chart
                .configure_mesh()
                .x_label_formatter(&|x| format!("{x:.0}"))
                .x_desc("epoch")
                .y_desc(name)
                .label_style((FAMILY, 14))
                .draw()?;
            let blue = RGBColor(31, 119, 180);
            let orange = RGBColor(255, 127, 14);
            chart
                .draw_series(LineSeries::new(
                    history.iter().map(|m| (m.epoch as f64, train(m))),
                    blue.stroke_width(2),
                ))?
                .label("train")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], blue));
            chart
                .draw_series(LineSeries::new(
                    history.iter().map(|m| (m.epoch as f64, valid(m))),
                    orange.stroke_width(2),
                ))?
                .label("validation")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], orange));
            if best_epoch > 0 {
                chart
                    .draw_series(LineSeries::new(
                        [(best_epoch as f64, 0.0), (best_epoch as f64, top)],
                        BLACK.mix(0.4),
                    ))?
                    .label(format!("kept: epoch {best_epoch}"))
                    .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.4)));
            }
            chart
                .configure_series_labels()
                .label_font((FAMILY, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .position(SeriesLabelPosition::UpperRight)
                .draw()?;
        }
        Ok(())
    })
}

/// The confusion matrix (rows: actual emotion, columns: predicted), each cell shaded by the
/// fraction of its row and labelled with its count.
pub fn confusion_matrix(path: &Path, title: &str, counts: &[Vec<usize>]) -> PlotResult {
    let n = Emotion::COUNT;
    render(path, (760, 720), |root| {
        let root = root.titled(title, (FAMILY, 22))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())?;
        // Rows from the top: actual emotion k is drawn at y = n - 1 - k.
        let name = |v: &SegmentValue<usize>, flip: bool| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                let k = if flip { n.saturating_sub(1 + *i) } else { *i };
                Emotion::ALL.get(k).map_or("", |e| e.name()).to_owned()
            }
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n)
            .y_labels(n)
            .x_label_formatter(&|v| name(v, false))
            .y_label_formatter(&|v| name(v, true))
            .x_desc("predicted")
            .y_desc("actual")
            .label_style((FAMILY, 14))
            .draw()?;
        let centre = Pos::new(HPos::Center, VPos::Center);
        let edge = |i: usize| {
            if i < n {
                SegmentValue::Exact(i)
            } else {
                SegmentValue::Last
            }
        };
        for (row, line) in counts.iter().enumerate().take(n) {
            let total = line.iter().sum::<usize>().max(1) as f64;
            for (col, &count) in line.iter().enumerate().take(n) {
                let share = count as f64 / total;
                // White to dark blue.
                let shade = |full: f64, light: f64| (light + (full - light) * share) as u8;
                let colour = RGBColor(shade(8.0, 255.0), shade(48.0, 255.0), shade(107.0, 255.0));
                let y = n - 1 - row;
                chart.draw_series([Rectangle::new(
                    [
                        (SegmentValue::Exact(col), SegmentValue::Exact(y)),
                        (edge(col + 1), edge(y + 1)),
                    ],
                    colour.filled(),
                )])?;
                let text_colour = if share > 0.5 { WHITE } else { BLACK };
                chart.draw_series([Text::new(
                    count.to_string(),
                    (SegmentValue::CenterOf(col), SegmentValue::CenterOf(y)),
                    (FAMILY, 18).into_font().color(&text_colour).pos(centre),
                )])?;
            }
        }
        Ok(())
    })
}

/// Accuracy after each number of confirmed samples: one thin line per speaker, their mean
/// thick.
pub fn learning_curve(
    path: &Path,
    title: &str,
    speakers: &[(String, Vec<f64>)],
    mean: &[f64],
) -> PlotResult {
    render(path, (900, 560), |root| {
        let steps = mean.len().saturating_sub(1).max(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .caption(title, (FAMILY, 20))
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..steps, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| format!("{x:.0}"))
            .x_desc("confirmed samples")
            .y_desc("test accuracy")
            .label_style((FAMILY, 14))
            .draw()?;
        for (k, (name, curve)) in speakers.iter().enumerate() {
            let colour = Palette99::pick(k).mix(0.6);
            chart
                .draw_series(LineSeries::new(
                    curve.iter().enumerate().map(|(i, &a)| (i as f64, a)),
                    colour.stroke_width(1),
                ))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour));
        }
        chart
            .draw_series(LineSeries::new(
                mean.iter().enumerate().map(|(i, &a)| (i as f64, a)),
                BLACK.stroke_width(3),
            ))?
            .label("mean")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(3)));
        chart
            .configure_series_labels()
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        Ok(())
    })
}

/// Accuracy per listening condition: two bars per condition (speaker statistics, cold).
pub fn robustness(path: &Path, title: &str, rows: &[(String, f64, f64)]) -> PlotResult {
    render(path, (1000, 520), |root| {
        let n = rows.len().max(1);
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .caption(title, (FAMILY, 20))
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, 0.0..1.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let k = x.round();
                if (x - k).abs() < 1e-6 && k >= 0.0 {
                    rows.get(k as usize).map_or(String::new(), |r| r.0.clone())
                } else {
                    String::new()
                }
            })
            .y_desc("accuracy")
            .label_style((FAMILY, 14))
            .draw()?;
        let colours = [RGBColor(38, 110, 190), RGBColor(230, 140, 40)];
        for (side, (label, colour)) in ["speaker statistics", "cold"]
            .into_iter()
            .zip(colours)
            .enumerate()
        {
            let offset = if side == 0 { -0.38 } else { 0.02 };
            chart
                .draw_series(rows.iter().enumerate().map(|(k, r)| {
                    let value = if side == 0 { r.1 } else { r.2 };
                    let x = k as f64 + offset;
                    Rectangle::new([(x, 0.0), (x + 0.36, value)], colour.filled())
                }))?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_png_of(path: &Path, width: u32, height: u32) {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (width, height));
    }

    #[test]
    fn charts_are_written_as_png() {
        let dir = std::env::temp_dir().join(format!("trainer-plots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let history: Vec<EpochMetrics> = (1..=6)
            .map(|epoch| EpochMetrics {
                epoch,
                train_loss: 2.0 / epoch as f64,
                train_accuracy: 0.1 * epoch as f64,
                valid_loss: 1.8 / epoch as f64 + 0.2,
                valid_accuracy: 0.08 * epoch as f64,
            })
            .collect();
        let curves = dir.join("curves.png");
        training_curves(&curves, "test run", &history, 4).unwrap();
        is_png_of(&curves, 1200, 520);
        let counts: Vec<Vec<usize>> = (0..8)
            .map(|r| (0..8).map(|c| if r == c { 20 } else { r + c }).collect())
            .collect();
        let confusion = dir.join("confusion.png");
        confusion_matrix(&confusion, "test", &counts).unwrap();
        is_png_of(&confusion, 760, 720);
        let bars = dir.join("robustness.png");
        let rows = vec![
            ("clean".to_owned(), 0.6, 0.55),
            ("pink".to_owned(), 0.5, 0.3),
        ];
        robustness(&bars, "test", &rows).unwrap();
        is_png_of(&bars, 1000, 520);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
