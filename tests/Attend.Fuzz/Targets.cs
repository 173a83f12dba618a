using Attend.Cli;
using Attend.Cli.Dates;
using Attend.Cli.Explain;
using Attend.Cli.Speech;
using Attend.Cli.Translate;
using Attend.Cli.Vision;
using Attend.Data;
using Attend.IO;
using Attend.Interop;
using Attend.Nn;
using Microsoft.AspNetCore.Http;

namespace Attend.Fuzz;

/// <summary>
/// One fuzz target per reader of outside input: its name, how it reads the fuzzer's bytes (through the reader's real
/// entry point — a file where the reader takes a path), and the exception types its documentation promises for bad
/// input. Anything else it throws is a bug, and so is an allocation over <see cref="Contract.Budget"/> or a run over 1 s.
/// </summary>
internal sealed record Target(string Name, string What, Action<byte[]> Read, Type[] Expected, bool Native = false)
{
    /// <summary>A scratch folder in RAM for the readers that take paths.</summary>
    static readonly string Scratch = Directory.CreateDirectory(Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"attend-fuzz-{Environment.ProcessId}")).FullName;

    static string File(string name, byte[] bytes)
    {
        string path = Path.Combine(Scratch, name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Splits an input into two files' bytes: a 2-byte big-endian length, that many bytes, the rest.</summary>
    static (byte[] First, byte[] Second) Split(byte[] b)
    {
        if (b.Length < 2) return ([], b);
        int n = Math.Min(b.Length - 2, (b[0] << 8) | b[1]);
        return (b[2..(2 + n)], b[(2 + n)..]);
    }

    static readonly Lazy<DateExplainer> Dates = new(() => new DateExplainer(new Seq2Seq(DateConfig.Tiny.Model, new Random(0)), DateConfig.Tiny));

    public static readonly Target[] All =
    [
        new("safetensors", "SafeTensors.Load: a .safetensors file", b =>
        {
            using var s = new MemoryStream(b);
            foreach (var t in SafeTensors.Load(s).Values) t.Dispose();
        }, [typeof(InvalidDataException)]),

        new("checkpoint", "Checkpoint.Load: a checkpoint folder whose checkpoint.json is the input (its safetensors files valid)", b =>
        {
            string dir = Path.Combine(Scratch, "ckpt");
            if (!Directory.Exists(dir)) Seeds.WriteCheckpoint(dir);
            System.IO.File.WriteAllBytes(Path.Combine(dir, Checkpoint.ManifestFile), b);
            Checkpoint.Load(dir).Dispose();
        }, [typeof(InvalidDataException), typeof(FileNotFoundException)]),

        new("onnx", "Bert.FromOnnx: an ONNX model (protobuf) read as a BERT encoder", b =>
        {
            using var s = new MemoryStream(b);
            Bert.FromOnnx(s, null, "fuzz.onnx");
        }, [typeof(InvalidDataException)]),

        new("wav", "Wav.Read: a .wav file", b => Wav.Read(File("in.wav", b)), [typeof(SpeechException)]),

        new("idx", "ImageFormats.Idx: an IDX labels file and an IDX images file (gzipped or not), split by a 2-byte length", b =>
        {
            var (labels, images) = Split(b);
            ImageFormats.Idx(File("images.idx", images), File("labels.idx", labels), ImageFormats.DigitNames);
        }, [typeof(InvalidDataException)]),

        new("digits-csv", "ImageFormats.DigitsCsv: scikit-learn's digits CSV (gzipped or not)", b => ImageFormats.DigitsCsv(File("digits.csv", b)),
            [typeof(InvalidDataException)]),

        new("image", "ImageFiles.Decode: an image file (PNG, JPEG, BMP, GIF, WebP) decoded to 32 × 32 RGB", b => ImageFiles.Decode(b, "in.png", 32, 3, out _),
            [typeof(VisionException)], Native: true),

        new("tsv", "Pairs.Load: a TSV of sentence pairs", b => Pairs.Load(File("pairs.tsv", b)), [typeof(CliException)]),

        new("vocab", "WordPieceTokenizer.FromFile then Encode: a BERT vocab.txt, then a sentence through it", b =>
        {
            var tok = WordPieceTokenizer.FromFile(File("vocab.txt", b));
            tok.Encode("The quick brown fox jumps over the lazy dog, unaffable [SEP] naïve café", out _);
        }, [typeof(InvalidDataException)]),

        new("explorer-request", "attend serve's POST /api/explain: the request body, to the date model", b =>
        {
            var result = ServeCommand.Explain(Dates.Value, new MemoryStream(b), b.Length, ServeCommand.MaxBody).GetAwaiter().GetResult();
            int status = result is IStatusCodeHttpResult { StatusCode: int code } ? code : 200;
            if (status is not (200 or 400 or 413)) throw new InvalidOperationException($"the server answered {status}");
        }, []),
    ];

    public static Target Named(string name) => All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"no fuzz target '{name}'; the targets: {string.Join(", ", All.Select(t => t.Name))}");
}
