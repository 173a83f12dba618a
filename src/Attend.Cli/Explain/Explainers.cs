using System.Text.Json.Nodes;
using Attend.Cli.Dates;
using Attend.Cli.Lm;
using Attend.Cli.Speech;
using Attend.Cli.Translate;
using Attend.Cli.Vision;
using Attend.Interpret;
using Attend.IO;

namespace Attend.Cli.Explain;

/// <summary>Picks the adapter for a checkpoint by the "kind" in its config.</summary>
public static class Explainers
{
    public static readonly string[] Kinds = [DateCheckpoint.Kind, LmModelConfig.Kind, TranslateConfig.Kind, VitModelConfig.Kind, SpeechConfig.Kind];

    /// <exception cref="ArgumentException">no checkpoint there, or one of a kind this attend cannot explain.</exception>
    public static IAttentionExplainer Load(string dir)
    {
        string manifest = Path.Combine(dir, Checkpoint.ManifestFile);
        if (!File.Exists(manifest)) throw new ArgumentException($"'{dir}' holds no checkpoint ({Checkpoint.ManifestFile} is missing); train one with 'attend quickstart', 'attend train lm', 'attend train translate', 'attend train vit' or 'attend train speech'");
        string kind;
        try { kind = JsonNode.Parse(File.ReadAllText(manifest))?["config"]?["kind"]?.GetValue<string>() ?? "(none)"; }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or IOException)
        {
            throw new ArgumentException($"'{manifest}' is not a readable checkpoint manifest: {ex.Message}");
        }
        try
        {
            return kind switch
            {
                DateCheckpoint.Kind => new DateExplainer(DateCheckpoint.Load(dir)),
                LmModelConfig.Kind => new LmExplainer(LmSampling.Load(dir)),
                TranslateConfig.Kind => new TranslateExplainer(TranslateTraining.Load(dir)),
                VitModelConfig.Kind => VitExplainer.Load(dir),
                SpeechConfig.Kind => new SpeechExplainer(SpeechTraining.Load(dir)),
                _ => throw new ArgumentException($"'{dir}' holds a checkpoint of kind '{kind}'; explain knows {string.Join(", ", Kinds)}"),
            };
        }
        catch (Exception ex) when (ex is LmException or TranslateException or VisionException or SpeechException or IOException or InvalidDataException)
        {
            throw new ArgumentException(ex.Message);
        }
    }

    /// <summary>Views of an encoder-decoder <see cref="Nn.Transformer"/> under "transformer.": encoder self-attention over the
    /// source tokens, decoder self-attention over the decoder inputs, cross-attention from the written tokens to the source.</summary>
    internal static List<AttentionView> EncoderDecoderViews(IReadOnlyList<CapturedAttention> records, string[] source, string[] decoderInput, string[] written)
    {
        var views = new List<AttentionView>();
        foreach (var r in records)
        {
            var p = r.Site.Split('.');          // transformer.{encoder|decoder}.layers.{i}.{self_attn|multihead_attn}
            if (p.Length != 5 || p[0] != "transformer") continue;
            string layer = p[3];
            views.Add((p[1], p[4]) switch
            {
                ("encoder", _) => AttentionView.From(r, $"encoder {layer}", "self", "encoder", source, source),
                ("decoder", "self_attn") => AttentionView.From(r, $"decoder {layer} self", "self", "decoder", decoderInput, decoderInput),
                _ => AttentionView.From(r, $"decoder {layer} cross", "cross", "cross", written, source),
            });
        }
        return views;
    }

    internal static ArgumentException Bad(string message) => new(message);
}
