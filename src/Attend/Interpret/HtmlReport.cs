using System.Net;

namespace Attend.Interpret;

/// <summary>
/// Self-contained HTML pages of attention views: CSS and JavaScript inline (explorer.css, explorer.js, embedded in this
/// assembly), no CDN, nothing fetched — the static page opens offline. Views: the head view (lines from each query token
/// to the keys it attends to, layer and head selectors), the model view (a grid of every layer × head), rollout and
/// flow heatmaps, per-head entropy and the keys each query attends to most. The live page (<c>attend serve</c>) runs the
/// same script on the JSON of <c>POST /api/explain</c>.
/// </summary>
public static class HtmlReport
{
    /// <summary>A page showing <paramref name="e"/>, its JSON embedded in a script element.</summary>
    /// <param name="e">the explanation.</param>
    /// <param name="json">its JSON with extra fields (e.g. "images"), &lt; &gt; &amp; escaped as in <see cref="Explanation.ToJson"/>; null: e.ToJson().</param>
    public static string Static(Explanation e, string? json = null) => Page($"Attention — {e.Model}",
        $"<script type=\"application/json\" id=\"attend-data\">{json ?? e.ToJson()}</script>\n<main id=\"views\"></main>\n",
        "Attend.render(document.getElementById('views'), JSON.parse(document.getElementById('attend-data').textContent));");

    /// <summary>The explorer page of <c>attend serve</c>: a text box whose input is posted to /api/explain.</summary>
    /// <param name="model">a one-line description of the model.</param>
    /// <param name="example">the text box's initial value.</param>
    /// <param name="maxInput">the longest input accepted (characters).</param>
    /// <param name="accept">image/audio models: the file types the upload box offers (e.g. ".wav"); null: no upload box.</param>
    /// <param name="maxFile">the largest file accepted (bytes), checked in the page before sending.</param>
    /// <param name="text">false: no text box (the model reads files only).</param>
    public static string Live(string model, string example, int maxInput, string? accept = null, int maxFile = 0, bool text = true) => Page($"Attend explorer — {model}",
        $"<header><h1>Attend explorer</h1><p class=\"model\">{Enc(model)}</p>\n<form id=\"ask\">" +
        (text ? $"<input id=\"input\" name=\"input\" maxlength=\"{maxInput}\" value=\"{Enc(example)}\" autocomplete=\"off\" spellcheck=\"false\">" +
                "<button id=\"go\" type=\"submit\">Explain</button>" : "") +
        (accept is null ? "" : $"<label>{(text ? " or " : "")}upload <input id=\"file\" type=\"file\" accept=\"{Enc(accept)}\" data-max=\"{maxFile}\"></label>") +
        "</form>\n<p id=\"error\" role=\"alert\"></p></header>\n<main id=\"views\"></main>\n",
        "Attend.live(document.getElementById('ask'), document.getElementById('input'), document.getElementById('error'), document.getElementById('views'), document.getElementById('file'));");

    private static string Page(string title, string body, string start) =>
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n" +
        $"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{Enc(title)}</title>\n" +
        $"<style>\n{Resource("explorer.css")}</style>\n</head><body>\n{body}<script>\n{Resource("explorer.js")}\n{start}\n</script>\n</body></html>\n";

    private static string Enc(string s) => WebUtility.HtmlEncode(s);

    private static readonly Dictionary<string, string> cache = new();

    private static string Resource(string name)
    {
        lock (cache)
        {
            if (cache.TryGetValue(name, out var text)) return text;
            using var stream = typeof(HtmlReport).Assembly.GetManifestResourceStream($"Attend.Interpret.{name}")
                ?? throw new InvalidOperationException($"HtmlReport: resource {name} is missing from {typeof(HtmlReport).Assembly.GetName().Name}");
            using var reader = new StreamReader(stream);
            return cache[name] = reader.ReadToEnd();
        }
    }
}
