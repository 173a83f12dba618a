using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Attend.Cli.Speech;
using Attend.Cli.Vision;
using Attend.Interop;
using Attend.IO;
using Attend.Nn;

namespace Attend.Fuzz;

/// <summary>The seed corpora (tests/fuzz/corpus/TARGET/): small valid inputs of every reader, made by Attend's own
/// writers where it has one, so that the fuzzer starts from files that get past the first checks.</summary>
internal static class Seeds
{
    static Dictionary<string, Tensor> Weights() => new() { ["w"] = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], [2, 3]), ["b"] = Tensor.FromArray([0.5f], [1]) };

    /// <summary>A complete checkpoint folder (weights, optimizer state, manifest) for the checkpoint target.</summary>
    public static void WriteCheckpoint(string dir) =>
        Checkpoint.Save(dir, Weights(), new Dictionary<string, Tensor> { ["m"] = Tensor.FromArray([0f, 1f], [2]) }, """{"kind": "fuzz"}""",
            new Dictionary<string, string> { ["step"] = "3" });

    public static void Write(string root)
    {
        string scratch = Directory.CreateTempSubdirectory("attend-seeds").FullName;
        try
        {
            void Put(string target, string name, byte[] bytes)
            {
                Directory.CreateDirectory(Path.Combine(root, target));
                File.WriteAllBytes(Path.Combine(root, target, name), bytes);
            }
            byte[] Gzip(byte[] b)
            {
                var ms = new MemoryStream();
                using (var z = new GZipStream(ms, CompressionLevel.SmallestSize, leaveOpen: true)) z.Write(b);
                return ms.ToArray();
            }

            var st = new MemoryStream();
            SafeTensors.Save(st, Weights(), new Dictionary<string, string> { ["format"] = "pt" });
            Put("safetensors", "two-tensors.safetensors", st.ToArray());

            WriteCheckpoint(Path.Combine(scratch, "ckpt"));
            Put("checkpoint", "checkpoint.json", File.ReadAllBytes(Path.Combine(scratch, "ckpt", Checkpoint.ManifestFile)));

            var bert = new Bert(new BertConfig(VocabSize: 12, HiddenSize: 8, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 16, MaxPositionEmbeddings: 8), rng: new Random(1));
            var onnx = OnnxExport.Save(bert, Path.Combine(scratch, "bert.onnx")).First(f => f.Path.EndsWith(".onnx"));
            Put("onnx", "tiny-bert.onnx", File.ReadAllBytes(onnx.Path));

            Wav.Write(Path.Combine(scratch, "a.wav"), Enumerable.Range(0, 64).Select(i => MathF.Sin(i / 3f) / 2).ToArray(), 16000);
            Put("wav", "sine.wav", File.ReadAllBytes(Path.Combine(scratch, "a.wav")));

            byte[] labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 7];
            byte[] images = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 64, 128, 255, 255, 128, 64, 0];
            byte[] Pair(byte[] l, byte[] i) => [(byte)(l.Length >> 8), (byte)l.Length, .. l, .. i];
            Put("idx", "two-images.bin", Pair(labels, images));
            Put("idx", "two-images-gz.bin", Pair(Gzip(labels), Gzip(images)));

            string row(int label) => string.Join(",", Enumerable.Range(0, 64).Select(i => (i * 7 + label) % 17)) + $",{label}\n";
            Put("digits-csv", "two-rows.csv", Encoding.ASCII.GetBytes(row(3) + row(8)));
            Put("digits-csv", "two-rows.csv.gz", Gzip(Encoding.ASCII.GetBytes(row(1))));

            ImageFiles.SavePng(Path.Combine(scratch, "a.png"), Enumerable.Range(0, 3 * 4 * 4).Select(i => i / 48f).ToArray(), 3, 4, 4);
            Put("image", "4x4.png", File.ReadAllBytes(Path.Combine(scratch, "a.png")));
            Put("image", "2x2.bmp", Bmp());

            Put("tsv", "pairs.tsv", Encoding.UTF8.GetBytes("Hello .\tHola .\nthe light\tla luz\n"));
            Put("vocab", "vocab.txt", Encoding.UTF8.GetBytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nquick\nbrown\n##s\nfox\n,\n.\nna\n##ive\ncafe\n"));
            Put("explorer-request", "input.json", Encoding.UTF8.GetBytes("""{"input": "Saturday 28 Nov 2026"}"""));
            Put("explorer-request", "file.json", Encoding.UTF8.GetBytes("""{"file": "aGVsbG8=", "name": "x.png"}"""));
        }
        finally { Directory.Delete(scratch, recursive: true); }
    }

    /// <summary>A 2 × 2 24-bit BMP.</summary>
    static byte[] Bmp()
    {
        var b = new byte[54 + 16];
        "BM"u8.CopyTo(b);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), 2);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), 2);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(34), 16);
        for (int i = 0; i < 16; i++) b[54 + i] = (byte)(i * 15);
        return b;
    }
}
