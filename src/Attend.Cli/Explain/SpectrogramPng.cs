using Attend.Cli.Speech;
using Attend.Interpret;
using SkiaSharp;

namespace Attend.Cli.Explain;

/// <summary>
/// The picture of a speech explanation, on one time axis: on top the log-mel spectrogram (low bands at the bottom, grey),
/// with the DTW word boundaries (orange, word above) and, for synthesized input, espeak-ng's phoneme starts (cyan, name
/// below the top); underneath, the alignment heads' standardized cross-attention (one row per written token, viridis)
/// with the DTW path in red.
/// </summary>
public static class SpectrogramPng
{
    const int Margin = 12, TitleHeight = 28, BandPx = 2, RowPx = 12, WordRow = 16, PhoneRow = 12;

    /// <param name="features">the model's log-mel input, [frames, 80] row-major.</param>
    /// <param name="subsampling">log-mel frames (10 ms) per encoder frame.</param>
    /// <param name="tokens">a label per row of <paramref name="alignment"/>.</param>
    /// <param name="alignment">[tokens, encoder frames].</param>
    /// <param name="pathToken">the DTW path's token indices (with <paramref name="pathFrame"/>).</param>
    public static byte[] Encode(string title, float[] features, int frames, int subsampling, string[] tokens, double[,] alignment,
        int[] pathToken, int[] pathFrame, IReadOnlyList<WordTiming> words, IReadOnlyList<Phone>? phones)
    {
        int T = alignment.GetLength(0), S = alignment.GetLength(1), mels = LogMel.Mels;
        if (tokens.Length != T) throw new ArgumentException($"spectrogram: {tokens.Length} token labels for {T} alignment rows");
        int px = Math.Clamp(1000 / Math.Max(1, frames), 1, 6);                 // pixels per 10 ms
        var typeface = Ui.Heatmap.LoadFont();
        using var font = typeface is null ? null : new SKFont(typeface, 10);
        using var titleFont = typeface is null ? null : new SKFont(typeface, 13);
        int left = Margin + (font is null ? 0 : (int)Math.Ceiling(tokens.Select(t => font.MeasureText(t)).DefaultIfEmpty(0).Max())) + 6;
        int specTop = TitleHeight + WordRow, specH = mels * BandPx, alignTop = specTop + specH + 6;
        int width = Math.Max(left + frames * px + Margin, titleFont is null ? 0 : (int)titleFont.MeasureText(title) + 2 * Margin);
        int height = alignTop + T * RowPx + Margin;
        using var surface = SKSurface.Create(new SKImageInfo(width, height)) ?? throw new InvalidOperationException("SkiaSharp: no surface");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var fill = new SKPaint { IsAntialias = false };
        // 1) the spectrogram, scaled over its own range
        float lo = features.Take(frames * mels).DefaultIfEmpty(0).Min(), hi = features.Take(frames * mels).DefaultIfEmpty(1).Max();
        for (int f = 0; f < frames; f++)
            for (int m = 0; m < mels; m++)
            {
                byte g = (byte)Math.Round(255 * (1 - (features[f * mels + m] - lo) / Math.Max(1e-6f, hi - lo)));
                fill.Color = new SKColor(g, g, g);
                canvas.DrawRect(left + f * px, specTop + (mels - 1 - m) * BandPx, px, BandPx, fill);
            }
        // 2) the alignment, min–max scaled
        double amin = double.PositiveInfinity, amax = double.NegativeInfinity;
        foreach (var v in alignment) { amin = Math.Min(amin, v); amax = Math.Max(amax, v); }
        int fpx = px * subsampling;
        for (int t = 0; t < T; t++)
            for (int s = 0; s < S; s++)
            {
                fill.Color = Ui.Heatmap.Viridis((float)((alignment[t, s] - amin) / Math.Max(1e-12, amax - amin)));
                canvas.DrawRect(left + s * fpx, alignTop + t * RowPx, fpx, RowPx, fill);
            }
        using var red = new SKPaint { Color = SKColors.Red, IsAntialias = true, IsStroke = true, StrokeWidth = 2 };
        for (int k = 1; k < pathToken.Length; k++)
            canvas.DrawLine(left + (pathFrame[k - 1] + 0.5f) * fpx, alignTop + (pathToken[k - 1] + 0.5f) * RowPx,
                            left + (pathFrame[k] + 0.5f) * fpx, alignTop + (pathToken[k] + 0.5f) * RowPx, red);
        // 3) espeak's phoneme starts and the DTW word boundaries
        using var cyan = new SKPaint { Color = new SKColor(0, 170, 220), IsAntialias = true, StrokeWidth = 1 };
        using var orange = new SKPaint { Color = new SKColor(255, 140, 0), IsAntialias = true, StrokeWidth = 2 };
        float X(double seconds) => left + (float)(seconds * 100 * px);
        if (phones is not null)
            foreach (var p in phones)
            {
                canvas.DrawLine(X(p.StartMs / 1000), specTop, X(p.StartMs / 1000), specTop + specH, cyan);
                if (font is not null) canvas.DrawText(p.Name, X(p.StartMs / 1000) + 2, specTop + 10, SKTextAlign.Left, font, cyan);
            }
        foreach (var w in words)
        {
            canvas.DrawLine(X(w.Start), specTop - 4, X(w.Start), alignTop + T * RowPx, orange);
            canvas.DrawLine(X(w.End), specTop - 4, X(w.End), specTop + specH, orange);
            if (font is not null) canvas.DrawText(w.Word, X(w.Start) + 3, specTop - 4, SKTextAlign.Left, font, orange);
        }
        if (font is not null)
        {
            using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            canvas.DrawText(title, Margin, 18, SKTextAlign.Left, titleFont!, ink);
            canvas.DrawText("mel", left - 4, specTop + specH / 2f, SKTextAlign.Right, font, ink);
            for (int t = 0; t < T; t++) canvas.DrawText(tokens[t], left - 4, alignTop + t * RowPx + RowPx - 2, SKTextAlign.Right, font, ink);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
