using System.Text.Json.Nodes;
using Attend.Cli.Dates;
using Attend.Cli.Embeddings;
using Attend.Cli.Lm;
using Attend.Cli.Recall;
using Attend.Cli.Speech;
using Attend.Cli.Translate;
using Attend.Cli.Vision;
using Attend.Interpret;
using Attend.IO;

namespace Attend.Cli.Explain;

/// <summary>Picks the adapter for a checkpoint by the "kind" in its config, or for a pretrained BERT encoder
/// (minilm, arctic, an ONNX file, a Hugging Face folder: <see cref="BertModels"/>) the <see cref="BertExplainer"/>.</summary>
public static class Explainers
{
    public static readonly string[] Kinds = [DateConfig.Kind, LmModelConfig.Kind, TranslateConfig.Kind, VitModelConfig.Kind, SpeechConfig.Kind, RecallConfig.Kind];

    /// <exception cref="ArgumentException">no checkpoint there, or one of a kind this attend cannot explain.</exception>
    public static IAttentionExplainer Load(string dir)
    {
        string manifest = Path.Combine(dir, Checkpoint.ManifestFile);
        if (!File.Exists(manifest) && BertModels.IsBert(dir))
        {
            try { return new BertExplainer(BertModels.Load(dir, Console.Error)); }
            catch (CliException ex) { throw new ArgumentException(ex.Message); }
        }
        if (!File.Exists(manifest)) throw new ArgumentException($"'{dir}' holds no checkpoint ({Checkpoint.ManifestFile} is missing); train one with 'attend quickstart', 'attend train lm', 'attend train translate', 'attend train vit', 'attend train speech' or 'attend train recall', " +
                                                                $"or name a pretrained BERT encoder: {BertModels.Help}");
        string kind = ModelCheckpoint.KindOf(dir);
        try
        {
            return kind switch
            {
                DateConfig.Kind => DateTask.Load(dir) is var (d, dc) ? new DateExplainer(d, dc) : null!,
                LmModelConfig.Kind => new LmExplainer(LmSampling.Load(dir)),
                TranslateConfig.Kind => TranslateTask.Load(dir) is var (t, tc) ? new TranslateExplainer(t, tc) : null!,
                VitModelConfig.Kind => VitExplainer.Load(dir),
                SpeechConfig.Kind => new SpeechExplainer(SpeechTask.Load(dir)),
                RecallConfig.Kind => new RecallExplainer(RecallConfig.Load(dir)),
                _ => throw new ArgumentException($"'{dir}' holds a checkpoint of kind '{kind}'; explain knows {string.Join(", ", Kinds)}"),
            };
        }
        catch (Exception ex) when (ex is CliException or IOException or InvalidDataException)
        {
            throw new ArgumentException(ex.Message);
        }
    }

    internal static ArgumentException Bad(string message) => new(message);
}
