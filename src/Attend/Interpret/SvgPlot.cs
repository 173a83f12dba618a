using System.Globalization;
using System.Net;
using System.Text;

namespace Attend.Interpret;

/// <summary>
/// Small SVG pictures written as text (no native graphics library): attention heatmaps side by side and line charts.
/// The guide's lessons (docs/learn) draw every picture with these; the output is deterministic for the same numbers.
/// </summary>
public static class SvgPlot
{
    /// <summary>One curve of a line chart: points (X[i], Y[i]); non-finite Y values break the line.</summary>
    public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"];
    private const int Cell = 22, Font = 12;

    /// <summary>One heatmap (rows × columns) of values in [min, max] (default: the data's range), white → dark blue.</summary>
    public static string Heatmap(float[,] values, IReadOnlyList<string>? rowLabels = null, IReadOnlyList<string>? colLabels = null,
        string? title = null, double? min = null, double? max = null) =>
        Heatmaps([(title ?? "", values)], rowLabels, colLabels, min, max);

    /// <summary>
    /// Heatmaps side by side, sharing row and column labels and one colour scale (default: the range over every panel);
    /// each cell carries its value as a tooltip.
    /// </summary>
    public static string Heatmaps(IReadOnlyList<(string Title, float[,] Values)> panels, IReadOnlyList<string>? rowLabels = null,
        IReadOnlyList<string>? colLabels = null, double? min = null, double? max = null)
    {
        if (panels.Count == 0) throw new ArgumentException("SvgPlot.Heatmaps: no panels");
        int rows = panels[0].Values.GetLength(0), cols = panels[0].Values.GetLength(1);
        foreach (var (t, v) in panels)
            if (v.GetLength(0) != rows || v.GetLength(1) != cols)
                throw new ArgumentException($"SvgPlot.Heatmaps: panel '{t}' is {v.GetLength(0)}×{v.GetLength(1)}, the first is {rows}×{cols}");
        CheckLabels(rowLabels, rows, "row"); CheckLabels(colLabels, cols, "column");
        double lo = min ?? panels.Min(p => Finite(p.Values).DefaultIfEmpty(0).Min()), hi = max ?? panels.Max(p => Finite(p.Values).DefaultIfEmpty(1).Max());
        if (!(hi > lo)) hi = lo + 1;
        int left = 8 + 7 * (rowLabels?.Max(l => l.Length) ?? 0), top = 24 + 7 * (colLabels?.Max(l => l.Length) ?? 0), gap = 24;
        int panelW = Math.Max(cols * Cell, 7 * panels.Max(p => p.Title.Length)), width = left + panels.Count * (panelW + gap), height = top + rows * Cell + 8;
        var s = Open(width, height);
        for (int p = 0; p < panels.Count; p++)
        {
            int x0 = left + p * (panelW + gap);
            bool wide = cols * Cell >= 7 * panels[p].Title.Length;
            s.Append(Text(wide ? x0 + cols * Cell / 2.0 : x0, 14, panels[p].Title, wide ? "middle" : "start", bold: true));
            for (int j = 0; j < cols && colLabels is not null; j++)
                s.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"0\" font-size=\"{Font}\" transform=\"translate({x0 + j * Cell + Cell / 2 + 4},{top - 4}) rotate(-90)\">{Esc(colLabels[j])}</text>\n");
            for (int i = 0; i < rows; i++)
            {
                if (p == 0 && rowLabels is not null) s.Append(Text(left - 4, top + i * Cell + Cell / 2.0 + 4, rowLabels[i], "end"));
                for (int j = 0; j < cols; j++)
                {
                    double v = panels[p].Values[i, j], f = double.IsFinite(v) ? Math.Clamp((v - lo) / (hi - lo), 0, 1) : 0;
                    string fill = double.IsFinite(v) ? Shade(f) : "#f0c0c0";
                    s.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x0 + j * Cell}\" y=\"{top + i * Cell}\" width=\"{Cell}\" height=\"{Cell}\" fill=\"{fill}\" stroke=\"#ddd\"><title>{v:G4}</title></rect>\n");
                }
            }
        }
        return s.Append("</svg>\n").ToString();
    }

    /// <summary>A line chart of the series with axes, ticks and a legend; <paramref name="logY"/> draws y on a log₁₀ scale.</summary>
    public static string Lines(IReadOnlyList<Series> series, string? title = null, string xLabel = "", string yLabel = "", bool logY = false)
    {
        if (series.Count == 0) throw new ArgumentException("SvgPlot.Lines: no series");
        foreach (var c in series)
            if (c.X.Count != c.Y.Count) throw new ArgumentException($"SvgPlot.Lines: series '{c.Name}' has {c.X.Count} x values and {c.Y.Count} y values");
        Func<double, double> ty = logY ? Math.Log10 : y => y;
        var xs = series.SelectMany(c => c.X).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        var ys = series.SelectMany(c => c.Y).Where(y => double.IsFinite(y) && (!logY || y > 0)).Select(ty).DefaultIfEmpty(0).ToArray();
        double x0 = xs.Min(), x1 = xs.Max(), y0 = ys.Min(), y1 = ys.Max();
        if (!(x1 > x0)) x1 = x0 + 1;
        if (!(y1 > y0)) { y0 -= 0.5; y1 += 0.5; }
        double pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
        const int H = 340, L = 64, T = 28, B = 48, Plot = 480;
        int R = 40 + 7 * series.Max(c => c.Name.Length), W = L + Plot + R;                    // the legend sits right of the plot
        double Px(double x) => L + (x - x0) / (x1 - x0) * (W - L - R);
        double Py(double y) => H - B - (ty(y) - y0) / (y1 - y0) * (H - T - B);
        var s = Open(W, H);
        if (title is not null) s.Append(Text((L + W - R) / 2.0, 16, title, "middle", bold: true));
        s.Append(CultureInfo.InvariantCulture, $"<rect x=\"{L}\" y=\"{T}\" width=\"{W - L - R}\" height=\"{H - T - B}\" fill=\"none\" stroke=\"#888\"/>\n");
        foreach (var t in Ticks(x0, x1))
            s.Append(Text(Px(t), H - B + 16, Num(t), "middle")).Append(Line(Px(t), H - B, Px(t), H - B + 4));
        foreach (var t in Ticks(y0, y1))
        {
            double py = H - B - (t - y0) / (y1 - y0) * (H - T - B);
            s.Append(Text(L - 6, py + 4, logY ? Num(Math.Pow(10, t)) : Num(t), "end")).Append(Line(L - 4, py, L, py));
        }
        s.Append(Text((L + W - R) / 2.0, H - 10, xLabel, "middle"));
        s.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"0\" font-size=\"{Font}\" text-anchor=\"middle\" transform=\"translate(14,{(T + H - B) / 2}) rotate(-90)\">{Esc(yLabel)}</text>\n");
        for (int k = 0; k < series.Count; k++)
        {
            string color = Palette[k % Palette.Length];
            var path = new StringBuilder();
            bool pen = false;
            for (int i = 0; i < series[k].X.Count; i++)
            {
                double x = series[k].X[i], y = series[k].Y[i];
                if (!double.IsFinite(x) || !double.IsFinite(y) || (logY && y <= 0)) { pen = false; continue; }
                path.Append(CultureInfo.InvariantCulture, $"{(pen ? 'L' : 'M')}{Px(x):F1},{Py(y):F1} ");
                pen = true;
            }
            s.Append(CultureInfo.InvariantCulture, $"<path d=\"{path.ToString().TrimEnd()}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\n");
            s.Append(Line(W - R + 10, T + 14 + 16 * k, W - R + 30, T + 14 + 16 * k, color, 2)).Append(Text(W - R + 34, T + 18 + 16 * k, series[k].Name, "start"));
        }
        return s.Append("</svg>\n").ToString();
    }

    /// <summary>Writes the picture to <paramref name="path"/> through a temporary file, so a reader never sees half of it.</summary>
    public static void Save(string path, string svg)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllText(tmp, svg, new UTF8Encoding(false));
        File.Move(tmp, path, overwrite: true);
    }

    private static IEnumerable<double> Finite(float[,] v) => v.Cast<float>().Where(float.IsFinite).Select(x => (double)x);

    private static void CheckLabels(IReadOnlyList<string>? labels, int n, string what)
    {
        if (labels is not null && labels.Count != n) throw new ArgumentException($"SvgPlot.Heatmaps: {labels.Count} {what} labels for {n} {what}s");
    }

    private static StringBuilder Open(int w, int h) => new StringBuilder().Append(CultureInfo.InvariantCulture,
        $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");

    private static string Text(double x, double y, string text, string anchor, bool bold = false) => string.Create(CultureInfo.InvariantCulture,
        $"<text x=\"{x:F1}\" y=\"{y:F1}\" font-size=\"{Font}\" text-anchor=\"{anchor}\"{(bold ? " font-weight=\"bold\"" : "")}>{Esc(text)}</text>\n");

    private static string Line(double xa, double ya, double xb, double yb, string color = "#888", int width = 1) => string.Create(CultureInfo.InvariantCulture,
        $"<line x1=\"{xa:F1}\" y1=\"{ya:F1}\" x2=\"{xb:F1}\" y2=\"{yb:F1}\" stroke=\"{color}\" stroke-width=\"{width}\"/>\n");

    // White (0) → dark blue (1).
    private static string Shade(double f) =>
        $"#{(int)Math.Round(255 - 247 * f):x2}{(int)Math.Round(255 - 207 * f):x2}{(int)Math.Round(255 - 148 * f):x2}";

    private static string Esc(string s) => WebUtility.HtmlEncode(s);

    private static string Num(double v) => Math.Abs(v) >= 1e4 || (Math.Abs(v) < 1e-3 && v != 0) ? v.ToString("0.#E+0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    // About five round ticks (1, 2 or 5 × 10ⁿ apart) inside [lo, hi].
    private static IEnumerable<double> Ticks(double lo, double hi)
    {
        double raw = (hi - lo) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw))), step = mag * (raw / mag < 1.5 ? 1 : raw / mag < 3.5 ? 2 : 5);
        for (double t = Math.Ceiling(lo / step) * step; t <= hi + step * 1e-9; t += step) yield return Math.Abs(t) < step * 1e-9 ? 0 : t;
    }
}
