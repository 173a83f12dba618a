using SkiaSharp;

namespace Attend.Cli.Vision;

/// <summary>Image files (PNG, JPEG, BMP, GIF, WebP) decoded by SkiaSharp into the pixels a model takes.</summary>
public static class ImageFiles
{
    static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>The most pixels an image may have to be decoded, 4096 × 4096: a small file that claims more (a decompression
    /// bomb) is refused from its header, before anything is allocated for it. Lower than Pillow's MAX_IMAGE_PIXELS
    /// (89,478,485) because the fuzzer found a 61-byte BMP of 16,897 × 4,098 that took 2 s to decode: 16 M pixels decode
    /// well within the readers' 1 s.</summary>
    public const long MaxPixels = 4096 * 4096;

    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>
    /// Decodes <paramref name="path"/> and returns <paramref name="channels"/> × <paramref name="size"/> × <paramref name="size"/>
    /// floats in [0, 1], channel-major. Transparent pixels are composited over white; an image of another size is resized
    /// (stretched, linear filtering with mipmaps); 1 channel is the luma 0.299 R + 0.587 G + 0.114 B, 3 channels are R, G, B.
    /// <paramref name="note"/> says what was changed ("resized from 640×480", …) or is empty.
    /// </summary>
    /// <exception cref="VisionException">the file is missing or not a decodable image.</exception>
    public static float[] Load(string path, int size, int channels, out string note)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (grey) or 3 (RGB)");
        if (!File.Exists(path)) throw new VisionException($"{path} not found");
        return Decode(File.ReadAllBytes(path), path, size, channels, out note);
    }

    /// <summary><see cref="Load"/> for the bytes of an image file (e.g. an upload); <paramref name="name"/> is used in errors.</summary>
    /// <exception cref="VisionException">the bytes are not a decodable image.</exception>
    public static float[] Decode(byte[] bytes, string name, int size, int channels, out string note)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (grey) or 3 (RGB)");
        using (var codec = SKCodec.Create(new SKMemoryStream(bytes)))                 // the header only: refuse a decompression bomb
            if (codec is { Info: var header } && (long)header.Width * header.Height > MaxPixels)
                throw new VisionException($"{name}: {header.Width}×{header.Height} pixels; at most {MaxPixels:N0} (4096 × 4096) are decoded");
        SKBitmap? bitmapOrNull;
        try { bitmapOrNull = SKBitmap.Decode(bytes); }
        catch (ArgumentException) { bitmapOrNull = null; }                  // SkiaSharp: no codec recognizes the bytes
        using var decoded = bitmapOrNull ?? throw new VisionException($"{name}: not a PNG, JPEG, BMP, GIF or WebP image SkiaSharp can decode");
        note = decoded.Width == size && decoded.Height == size ? "" : $"resized from {decoded.Width}×{decoded.Height}";
        var info = new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        using (var canvas = new SKCanvas(bitmap))
        using (var image = SKImage.FromBitmap(decoded))
        {
            canvas.Clear(SKColors.White);
            canvas.DrawImage(image, new SKRect(0, 0, size, size), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }
        var rgba = bitmap.Bytes;   // RGBA, row-major
        var result = new float[channels * size * size];
        for (int i = 0; i < size * size; i++)
        {
            float r = rgba[4 * i] / 255f, g = rgba[4 * i + 1] / 255f, b = rgba[4 * i + 2] / 255f;
            if (channels == 1) result[i] = 0.299f * r + 0.587f * g + 0.114f * b;
            else (result[i], result[size * size + i], result[2 * size * size + i]) = (r, g, b);
        }
        return result;
    }

    /// <summary>Writes an image [Ch, H, W] in [0, 1] as a grey (1 channel) or RGB PNG: to a temporary name, then renamed.</summary>
    public static void SavePng(string path, float[] pixels, int channels, int height, int width)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var bytes = new byte[4 * height * width];
        int hw = height * width;
        for (int i = 0; i < hw; i++)
        {
            for (int c = 0; c < 3; c++)
                bytes[4 * i + c] = (byte)Math.Round(255 * Math.Clamp(pixels[(channels == 1 ? 0 : c * hw) + i], 0f, 1f));
            bytes[4 * i + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        string tmp = $"{path}.tmp-{Guid.NewGuid():N}";
        using (var f = File.Create(tmp)) data.SaveTo(f);
        File.Move(tmp, path, overwrite: true);
    }
}
