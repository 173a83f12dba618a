using System.CommandLine;
using Attend.Cli.Dates;
using Attend.Cli.Embeddings;
using Attend.Cli.Lm;
using Attend.Cli.Speech;
using Attend.Cli.Translate;
using Attend.Cli.Vision;
using Attend.Interop;
using Attend.IO;
using Attend.Nn;

namespace Attend.Cli.Export;

/// <summary>
/// <c>attend export --model DIR --out model.onnx [--opset 17|23] [--kv-cache]</c>: a checkpoint of any task (quickstart's
/// dates model, lm, translate, vit, speech) or a pretrained BERT encoder (minilm, arctic, an ONNX file or a Hugging Face
/// folder) as ONNX files for ONNX Runtime (<see cref="OnnxExport"/>). The checkpoint's config JSON — the tokenizer's
/// characters or words, BOS/EOS ids, the image size — goes into the files' metadata (key <c>attend_config</c>); a BERT's
/// vocab.txt is written beside the file, so the export reads back with <c>Bert.Load</c> and <c>--model PATH</c>.
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "a checkpoint folder (attend quickstart / train lm|translate|vit|speech) or a BERT encoder: " + BertModels.Help, Required = true };
        var outFile = new Option<string>("--out") { Description = "the ONNX file to write (a Seq2Seq with --kv-cache: NAME.encoder.onnx and NAME.decoder.onnx beside it)", DefaultValueFactory = _ => "model.onnx" };
        var opset = new Option<int>("--opset") { Description = "17 (MatMul/Softmax attention, runs everywhere) or 23 (the standard Attention, RotaryEmbedding and RMSNormalization ops)", DefaultValueFactory = _ => 17 };
        opset.AcceptOnlyFromAmong("17", "23");
        var kvCache = new Option<bool>("--kv-cache") { Description = "past/present key-value inputs and outputs (lm; the encoder-decoders' decoder) for token-by-token generation" };
        var cmd = new Command("export", "Export a trained model or a pretrained BERT encoder to ONNX, for ONNX Runtime (C#, C++, JS, mobile).")
        {
            model, outFile, opset, kvCache,
        };
        cmd.SetAction(pr => CliChecks.Guard(() => Run(pr.GetValue(model)!, pr.GetValue(outFile)!, pr.GetValue(opset), pr.GetValue(kvCache), Console.Out, Console.Error)));
        return cmd;
    }

    public static int Run(string modelPath, string outFile, int opset, bool kvCache, TextWriter stdout, TextWriter log)
    {
        var (module, what, config, vocab) = Load(modelPath, log);
        var metadata = new Dictionary<string, string> { ["attend_source"] = what };
        if (config is not null) metadata["attend_config"] = config;
        IReadOnlyList<OnnxExportFile> files;
        try { files = OnnxExport.Save(module, outFile, new OnnxExportOptions { Opset = opset, KvCache = kvCache, Metadata = metadata }); }
        catch (Exception ex) when (ex is NotSupportedException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot export {what}: {ex.Message}");
        }
        stdout.WriteLine($"exported {what}, opset {opset}{(kvCache ? ", with KV cache" : "")}");
        foreach (var f in files)
        {
            stdout.WriteLine($"  {f.Path}  ({f.Role}, {f.Bytes / 1048576.0:F1} MB)");
            stdout.WriteLine($"    inputs:  {string.Join("; ", f.Inputs)}");
            stdout.WriteLine($"    outputs: {string.Join("; ", f.Outputs)}");
        }
        if (vocab is not null)
        {
            string path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outFile))!, "vocab.txt"), tmp = $"{path}.tmp-{Guid.NewGuid():N}";
            File.WriteAllLines(tmp, vocab);                                     // then renamed: never a half-written vocabulary
            File.Move(tmp, path, overwrite: true);
            stdout.WriteLine($"  {path}  (the WordPiece vocabulary: attend embed --model {outFile} reads the export back)");
        }
        return 0;
    }

    /// <summary>The model at <paramref name="path"/> in evaluation mode, what it is (for messages), its config JSON
    /// and, for BERT, its vocabulary.</summary>
    private static (Module Model, string What, string? Config, IReadOnlyList<string>? Vocab) Load(string path, TextWriter log)
    {
        if (!File.Exists(Path.Combine(path, Checkpoint.ManifestFile)) && BertModels.IsBert(path))
        {
            var bert = BertModels.Load(path, log);
            return (bert.Model, $"BERT encoder {bert.Name}", null, bert.Tokenizer.Tokens);
        }
        if (!File.Exists(Path.Combine(path, Checkpoint.ManifestFile)))
            throw new CliException($"--model '{path}' holds no checkpoint ({Checkpoint.ManifestFile} is missing) and is not a BERT encoder; " +
                                   $"train one with attend quickstart or attend train lm|translate|vit|speech, or name {BertModels.Help}");
        string kind, config;
        Module model;
        try
        {
            kind = ModelCheckpoint.KindOf(path);
            model = kind switch
            {
                DateConfig.Kind => DateTask.Load(path).Model,
                LmModelConfig.Kind => LmSampling.Load(path).Model,
                TranslateConfig.Kind => TranslateTask.Load(path).Model,
                VitModelConfig.Kind => VitTraining.Load(path).Model,
                SpeechConfig.Kind => SpeechTask.Load(path).Model,
                _ => throw new CliException($"--model '{path}' holds a checkpoint of kind '{kind}'; export knows {DateConfig.Kind}, {LmModelConfig.Kind}, {TranslateConfig.Kind}, {VitModelConfig.Kind} and {SpeechConfig.Kind}"),
            };
            config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(path, Checkpoint.ManifestFile)))?["config"]?.ToJsonString() ?? "{}";
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new CliException($"--model '{path}': {ex.Message}");
        }
        model.Eval();
        return (model, $"{kind} checkpoint {path}", config, null);
    }
}
