using System.Text.Json.Nodes;
using Attend.Interpret;

namespace Attend.Cli.Explain;

/// <summary>An explanation, the extra pictures an image or audio model draws for it (name, PNG bytes) and lines to add to summary.txt.</summary>
public sealed record MediaExplanation(Explanation Explanation, IReadOnlyList<(string Name, byte[] Png)> Pngs, string SummaryExtra = "")
{
    /// <summary>The explanation's JSON with its pictures: "images": [{"name", "png": base64}] (HTML-safe, as ToJson).</summary>
    public string ToJson()
    {
        var node = JsonNode.Parse(Explanation.ToJson())!.AsObject();
        node["images"] = new JsonArray(Pngs.Select(p => (JsonNode)new JsonObject { ["name"] = Path.GetFileName(p.Name), ["png"] = Convert.ToBase64String(p.Png) }).ToArray());
        return node.ToJsonString();
    }
}

/// <summary>
/// An adapter for a model that reads files (images, WAV audio): <c>attend explain --input FILE</c> and the explorer's
/// upload box hand it the file's bytes. The text input of <see cref="IAttentionExplainer.Explain"/> may still mean
/// something (speech: words to synthesize with espeak-ng).
/// </summary>
public interface IMediaExplainer : IAttentionExplainer
{
    /// <summary>The file types offered by the upload box, e.g. ".wav" or "image/*".</summary>
    string Accept { get; }
    /// <summary>Whether a text input means anything to this model.</summary>
    bool TakesText { get; }
    /// <summary>Runs the model on a file's bytes; <paramref name="name"/> names it in the views and in errors.</summary>
    /// <exception cref="ArgumentException">the bytes are not a file the model can read (the message says why).</exception>
    MediaExplanation ExplainFile(byte[] bytes, string name);
    /// <summary>Runs the model on a text input (when <see cref="TakesText"/>), with the pictures.</summary>
    MediaExplanation ExplainText(string text);
}
