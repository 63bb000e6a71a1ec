//! SVG charts for the HTML report, drawn with `plotters`' SVG backend (text is emitted as SVG
//! `<text>`, so no font files are needed on the machine).

use plotters::prelude::*;
use scenarios::class::{LayerKind, MapLayer};

/// Chart size in pixels.
const W: u32 = 760;
const H: u32 = 300;

/// An axis tick as a person reads it: whole numbers with thousands separators (`1,200,000`,
/// not `1200000.0`), fractions to a tick's precision (`39.5`, `2.25`, `0.0125`).
pub fn tick(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        let n = v.round() as i64;
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        return if n < 0 { format!("-{out}") } else { out };
    }
    let s = if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A line chart of one or more named series over x (e.g. hours).
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> String {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).ok();
        let (x0, x1, y1) = series.iter().flat_map(|(_, v)| v.iter()).fold(
            (f64::INFINITY, f64::NEG_INFINITY, 0.0f64),
            |(a, b, c), (x, y)| (a.min(*x), b.max(*x), c.max(*y)),
        );
        let (x0, x1) = if x0.is_finite() && x1 > x0 {
            (x0, x1)
        } else {
            (0.0, 1.0)
        };
        let y_min = series
            .iter()
            .flat_map(|(_, v)| v.iter().map(|p| p.1))
            .fold(f64::INFINITY, f64::min);
        // Values that all sit far from zero (temperatures) get an axis around them; counts
        // and rates keep zero on the axis.
        let y0 = if y_min.is_finite() && y_min > 0.3 * y1 {
            (y_min - 0.1 * (y1 - y_min)).floor()
        } else {
            0.0
        };
        let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .expect("valid ranges");
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .ok();
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map(|s| {
                    s.label(*name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    })
                })
                .ok();
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .ok();
        root.present().ok();
    }
    buf
}

/// A bar chart of labelled bins (a histogram whose bins the caller has made).
pub fn bars(title: &str, x_label: &str, y_label: &str, bins: &[(String, f64)]) -> String {
    bars_scaled(title, x_label, y_label, bins, false)
}

/// A bar chart whose counts span orders of magnitude, on a log scale: a tail of a few
/// readings stays visible beside a bin of millions. The axis is labelled at powers of ten.
pub fn bars_log(title: &str, x_label: &str, y_label: &str, bins: &[(String, f64)]) -> String {
    let logged: Vec<(String, f64)> = bins
        .iter()
        .map(|(l, n)| {
            (
                l.clone(),
                if *n > 0.0 {
                    (n.log10() + 1.0).max(0.0)
                } else {
                    0.0
                },
            )
        })
        .collect();
    bars_scaled(
        title,
        x_label,
        &format!("{y_label} (log scale)"),
        &logged,
        true,
    )
}

/// The label of a log-scale tick at `v` (a bar of one reading is 1 high): powers of ten only.
fn log_tick(v: f64) -> String {
    let e = v - 1.0;
    if v >= 1.0 && (e - e.round()).abs() < 1e-6 {
        tick(10f64.powi(e.round() as i32))
    } else {
        String::new()
    }
}

fn bars_scaled(
    title: &str,
    x_label: &str,
    y_label: &str,
    bins: &[(String, f64)],
    log_y: bool,
) -> String {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).ok();
        let n = bins.len().max(1);
        let y1 = bins.iter().map(|b| b.1).fold(0.0, f64::max);
        let y1 = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
        let y_tick = |v: &f64| if log_y { log_tick(*v) } else { tick(*v) };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0usize..n, 0.0..y1)
            .expect("valid ranges");
        let labels: Vec<String> = bins.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_labels(n.min(12))
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .y_label_formatter(&y_tick)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .ok();
        let color = RGBColor(49, 110, 180);
        chart
            .draw_series(
                bins.iter().enumerate().map(|(i, b)| {
                    Rectangle::new([(i, 0.0), (i + 1, b.1)], color.mix(0.8).filled())
                }),
            )
            .ok();
        root.present().ok();
    }
    buf
}

/// A point on the herd map, in metres east and north of the pasture's origin.
#[derive(Clone, Copy, Debug)]
pub struct MapPoint {
    pub east_m: f64,
    pub north_m: f64,
}

/// The herd map: the pasture outline, every (sampled) cow, and flagged cows in colour.
pub fn map(
    title: &str,
    pasture: &[MapPoint],
    cows: &[MapPoint],
    flagged: &[(&str, Vec<MapPoint>)],
) -> String {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, W * 3 / 4)).into_drawing_area();
        root.fill(&WHITE).ok();
        let all = pasture.iter().chain(cows);
        let (x0, x1, y0, y1) = all.fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), p| {
                (
                    a.min(p.east_m),
                    b.max(p.east_m),
                    c.min(p.north_m),
                    d.max(p.north_m),
                )
            },
        );
        let (x0, x1, y0, y1) = if x0.is_finite() && x1 > x0 && y1 > y0 {
            (x0, x1, y0, y1)
        } else {
            (0.0, 1.0, 0.0, 1.0)
        };
        let pad = 0.03 * (x1 - x0).max(y1 - y0);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0 - pad..x1 + pad, y0 - pad..y1 + pad)
            .expect("valid ranges");
        chart
            .configure_mesh()
            .x_desc("metres east")
            .y_desc("metres north")
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .ok();
        let mut outline: Vec<(f64, f64)> = pasture.iter().map(|p| (p.east_m, p.north_m)).collect();
        if let Some(first) = outline.first().copied() {
            outline.push(first);
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                outline,
                RGBColor(60, 130, 60).stroke_width(2),
            )))
            .map(|s| {
                s.label("pasture").legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(60, 130, 60))
                })
            })
            .ok();
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(
                cows.iter()
                    .map(|p| Circle::new((p.east_m, p.north_m), 1, grey.filled())),
            )
            .map(|s| {
                s.label("cow")
                    .legend(move |(x, y)| Circle::new((x + 8, y), 3, grey.filled()))
            })
            .ok();
        let colours = [
            RGBColor(214, 39, 40),
            RGBColor(255, 127, 14),
            RGBColor(148, 103, 189),
        ];
        for (i, (name, pts)) in flagged.iter().enumerate() {
            let c = colours[i % colours.len()];
            chart
                .draw_series(
                    pts.iter()
                        .map(|p| Circle::new((p.east_m, p.north_m), 4, c.filled())),
                )
                .map(|s| {
                    s.label(*name)
                        .legend(move |(x, y)| Circle::new((x + 8, y), 4, c.filled()))
                })
                .ok();
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .ok();
        root.present().ok();
    }
    buf
}

/// A site map: layers of outlines (lightly filled), polylines and dots, in metres, drawn in
/// order with one colour each and a legend entry per layer. The axes keep the site's aspect.
pub fn site_map(title: &str, layers: &[MapLayer]) -> String {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, W * 3 / 4)).into_drawing_area();
        root.fill(&WHITE).ok();
        let pts = layers.iter().flat_map(|l| l.shapes.iter().flatten());
        let (x0, x1, y0, y1) = pts.fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
        );
        let (x0, x1, y0, y1) = if x0.is_finite() && x1 > x0 && y1 > y0 {
            (x0, x1, y0, y1)
        } else {
            (0.0, 1.0, 0.0, 1.0)
        };
        // The same metres per pixel both ways: widen the shorter extent about its centre.
        let (w, h) = (x1 - x0, y1 - y0);
        let aspect = f64::from(W - 84) / f64::from(W * 3 / 4 - 76);
        let (w2, h2) = if w / h > aspect {
            (w, w / aspect)
        } else {
            (h * aspect, h)
        };
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let pad = 0.03 * w2.max(h2);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(
                cx - w2 / 2.0 - pad..cx + w2 / 2.0 + pad,
                cy - h2 / 2.0 - pad..cy + h2 / 2.0 + pad,
            )
            .expect("valid ranges");
        chart
            .configure_mesh()
            .x_desc("metres east")
            .y_desc("metres north")
            .light_line_style(RGBColor(245, 245, 245))
            .draw()
            .ok();
        for (i, layer) in layers.iter().enumerate() {
            let c = Palette99::pick(i).to_rgba();
            let drawn = match layer.kind {
                LayerKind::Areas => {
                    chart
                        .draw_series(
                            layer
                                .shapes
                                .iter()
                                .map(|s| Polygon::new(s.clone(), c.mix(0.12).filled())),
                        )
                        .ok();
                    chart
                        .draw_series(layer.shapes.iter().map(|s| {
                            let mut ring = s.clone();
                            if let Some(first) = ring.first().copied() {
                                ring.push(first);
                            }
                            PathElement::new(ring, c.stroke_width(2))
                        }))
                        .ok()
                }
                LayerKind::Lines => chart
                    .draw_series(
                        layer
                            .shapes
                            .iter()
                            .map(|s| PathElement::new(s.clone(), c.stroke_width(2))),
                    )
                    .ok(),
                LayerKind::Points => chart
                    .draw_series(
                        layer
                            .shapes
                            .iter()
                            .flatten()
                            .map(|p| Circle::new(*p, 2, c.filled())),
                    )
                    .ok(),
            };
            if let Some(series) = drawn {
                series.label(layer.name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(3))
                });
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 11))
            .draw()
            .ok();
        root.present().ok();
    }
    buf
}

/// One row of the alerts timeline: a device's true episode (if any) and its alerts.
#[derive(Clone, Debug)]
pub struct TimelineRow {
    pub label: String,
    /// The true episode as hours from the start, if the device had one.
    pub episode_h: Option<(f64, f64)>,
    /// Alert times in hours, with whether each matched an episode.
    pub alerts_h: Vec<(f64, bool)>,
}

/// The alerts timeline: true episodes as bars, alerts as markers (green matched, red false).
pub fn timeline(title: &str, duration_h: f64, rows: &[TimelineRow]) -> String {
    let mut buf = String::new();
    let height = (80 + 18 * rows.len() as u32).clamp(160, 900);
    {
        let root = SVGBackend::with_string(&mut buf, (W, height)).into_drawing_area();
        root.fill(&WHITE).ok();
        let n = rows.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(120)
            .build_cartesian_2d(0.0..duration_h.max(1.0), 0.0..n as f64)
            .expect("valid ranges");
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        chart
            .configure_mesh()
            .x_desc("hours")
            .y_labels(n.min(50))
            .y_label_formatter(&|y| labels.get(*y as usize).cloned().unwrap_or_default())
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .ok();
        let bar = RGBColor(250, 200, 120);
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                r.episode_h.map(|(a, b)| {
                    Rectangle::new([(a, i as f64 + 0.2), (b, i as f64 + 0.8)], bar.filled())
                })
            }))
            .map(|s| {
                s.label("true episode").legend(move |(x, y)| {
                    Rectangle::new([(x, y - 4), (x + 16, y + 4)], bar.filled())
                })
            })
            .ok();
        let good = RGBColor(44, 160, 44);
        let bad = RGBColor(214, 39, 40);
        chart
            .draw_series(rows.iter().enumerate().flat_map(|(i, r)| {
                r.alerts_h.iter().map(move |(t, ok)| {
                    TriangleMarker::new(
                        (*t, i as f64 + 0.5),
                        6,
                        if *ok { good.filled() } else { bad.filled() },
                    )
                })
            }))
            .map(|s| {
                s.label("alert (green: true, red: false)")
                    .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 5, good.filled()))
            })
            .ok();
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .ok();
        root.present().ok();
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::tick;
    #[test]
    fn ticks_read_as_numbers_a_person_writes() {
        assert_eq!(tick(1_200_000.0), "1,200,000");
        assert_eq!(tick(1_234.56), "1,235");
        assert_eq!(tick(-45_000.0), "-45,000");
        assert_eq!(tick(40.0), "40");
        assert_eq!(tick(39.55), "39.5");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.0125), "0.0125");
        assert_eq!(tick(0.005), "0.005");
        // On the log scale a bar of one reading is 1 high, of a thousand 4.
        assert_eq!(super::log_tick(1.0), "1");
        assert_eq!(super::log_tick(4.0), "1,000");
        assert_eq!(super::log_tick(2.5), "");
    }

    #[test]
    fn a_line_chart_is_svg_with_its_title_and_legend() {
        let svg = super::lines(
            "Messages per hour",
            "hour",
            "messages",
            &[
                ("sent", vec![(0.0, 1.0), (1.0, 3.0)]),
                ("stored", vec![(0.0, 1.0), (1.0, 2.0)]),
            ],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Messages per hour") && svg.contains("stored"));
    }

    #[test]
    fn the_map_and_timeline_draw_every_layer() {
        use super::*;
        let sq = |x: f64, y: f64| MapPoint {
            east_m: x,
            north_m: y,
        };
        let svg = map(
            "Herd",
            &[sq(0.0, 0.0), sq(100.0, 0.0), sq(100.0, 100.0)],
            &[sq(10.0, 10.0)],
            &[("fever", vec![sq(50.0, 50.0)])],
        );
        assert!(svg.contains("pasture") && svg.contains("fever") && svg.contains("<circle"));
        let svg = timeline(
            "Alerts",
            24.0,
            &[TimelineRow {
                label: "cow-7".into(),
                episode_h: Some((2.0, 5.0)),
                alerts_h: vec![(2.5, true)],
            }],
        );
        assert!(svg.contains("cow-7") && svg.contains("true episode"));
        let svg = bars(
            "Latency",
            "ms",
            "readings",
            &[("0-10".into(), 5.0), ("10-20".into(), 2.0)],
        );
        assert!(svg.contains("0-10") && svg.contains("<rect"));
    }
}
