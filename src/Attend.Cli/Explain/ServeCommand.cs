using System.CommandLine;
using System.Net;
using System.Text.Json;
using Attend.Interpret;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Attend.Cli.Explain;

/// <summary>
/// <c>attend serve --model CKPT [--port N] [--host 127.0.0.1]</c>: the attention explorer, an ASP.NET Core minimal app.
/// <code>
/// GET  /              the page: a text box, the model's output and the views of explain.html, live
/// GET  /api/info      {"model": description, "example": text, "max_input": n}
/// POST /api/explain   {"input": "…"} → the Explanation JSON (as explanation.json), or {"error": "…"} with 400/413
///                     image/speech models also {"file": base64, "name": "x.wav"} → the same with "images": [{"name", "png": base64}]
/// </code>
/// A BERT encoder (--model minilm, arctic, an ONNX file, a Hugging Face folder) takes a sentence, or a pair typed as
/// "A [SEP] B" (the text box and {"input": …} alike).
/// Bound to 127.0.0.1 unless --host says otherwise; request bodies over <see cref="MaxBody"/> bytes (image/speech models:
/// <see cref="MaxUploadBody"/>, files of at most <see cref="MaxFile"/> bytes) are refused; no request touches the file
/// system (the page is built in memory at start; uploads are decoded in memory). One request runs the model at a time.
/// </summary>
public static class ServeCommand
{
    /// <summary>The largest request body accepted, in bytes.</summary>
    public const int MaxBody = 16 * 1024;
    /// <summary>The largest uploaded file (after base64 decoding), in bytes.</summary>
    public const int MaxFile = 2 * 1024 * 1024;
    /// <summary>The largest request body for image/speech models: a file of <see cref="MaxFile"/> bytes in base64, and room for the JSON.</summary>
    public const int MaxUploadBody = MaxFile / 3 * 4 + 8 + MaxBody;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = ExplainCommand.ModelHelp, Required = true };
        var port = new Option<int>("--port") { Description = "TCP port (0: any free port; the address is printed)", DefaultValueFactory = _ => 5080 };
        var host = new Option<string>("--host") { Description = "IP address to listen on (default: loopback only)", DefaultValueFactory = _ => "127.0.0.1" };
        var cmd = new Command("serve", "Serve the attention explorer: type an input in the browser, see the model's output and every layer and head.") { model, port, host };
        cmd.SetAction(pr =>
        {
            try
            {
                if (!IPAddress.TryParse(pr.GetValue(host), out var ip)) throw new ArgumentException($"--host must be an IP address, not '{pr.GetValue(host)}'");
                if (pr.GetValue(port) is < 0 or > 65535) throw new ArgumentException($"--port must be in 0…65535, not {pr.GetValue(port)}");
                var explainer = Explainers.Load(pr.GetValue(model)!);
                using var app = Build(explainer, ip, pr.GetValue(port));
                app.Start();
                Console.WriteLine($"{explainer.Description}");
                Console.WriteLine($"Attend explorer listening on {string.Join(", ", app.Urls)} (Ctrl-C to stop)");
                app.WaitForShutdown();
                return 0;
            }
            catch (Exception ex) when (ex is ArgumentException or IOException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 2;
            }
        });
        return cmd;
    }

    /// <summary>The app, not yet started, listening on <paramref name="ip"/>:<paramref name="port"/>.</summary>
    public static WebApplication Build(IAttentionExplainer explainer, IPAddress ip, int port)
    {
        var media = explainer as IMediaExplainer;
        int maxBody = media is null ? MaxBody : MaxUploadBody;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = maxBody;
            o.Listen(ip, port);
        });
        var app = builder.Build();
        string page = HtmlReport.Live(explainer.Description, explainer.Example, explainer.MaxInput, media?.Accept, MaxFile, media?.TakesText ?? true);
        var gate = new object();

        app.MapGet("/", () => Results.Text(page, "text/html; charset=utf-8"));
        app.MapGet("/api/info", () => Results.Text(Json(w =>
        {
            w.WriteString("model", explainer.Description); w.WriteString("example", explainer.Example); w.WriteNumber("max_input", explainer.MaxInput);
            if (media is not null) { w.WriteString("accept", media.Accept); w.WriteNumber("max_file", MaxFile); w.WriteBoolean("text", media.TakesText); }
        }), "application/json"));
        app.MapPost("/api/explain", async (HttpRequest request) =>
        {
            if (request.ContentLength > maxBody) return Error(413, $"the request is {request.ContentLength} bytes; at most {maxBody}");
            string? input = null, file = null, name = null;
            try
            {
                using var doc = await JsonDocument.ParseAsync(request.Body);
                var root = doc.RootElement;
                string? Str(string key) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                (input, file, name) = (Str("input"), Str("file"), Str("name"));
            }
            catch (JsonException ex) { return Error(400, $"the request body is not JSON: {ex.Message}"); }
            catch (BadHttpRequestException ex) { return Error(ex.StatusCode, $"bad request: {ex.Message}"); }
            if (file is not null && media is null) return Error(400, "this model reads text, not files: send {\"input\": \"…\"}");
            if (file is null && input is null)
                return Error(400, media is null ? "send a JSON object {\"input\": \"…\"}" : "send a JSON object {\"input\": \"…\"} or {\"file\": base64, \"name\": \"…\"}");
            if (input is not null && file is null && (media?.TakesText ?? true) && input.Length > explainer.MaxInput)
                return Error(400, $"the input has {input.Length} characters; this model reads at most {explainer.MaxInput}");
            try
            {
                if (file is not null)
                {
                    byte[] bytes;
                    try { bytes = Convert.FromBase64String(file); }
                    catch (FormatException) { return Error(400, "\"file\" is not base64"); }
                    if (bytes.Length > MaxFile) return Error(413, $"the file is {bytes.Length} bytes; at most {MaxFile}");
                    string label = Path.GetFileName(string.IsNullOrWhiteSpace(name) ? "upload" : name);     // a label only, never opened
                    MediaExplanation m;
                    lock (gate) m = media!.ExplainFile(bytes, label.Length > 100 ? label[..100] : label);
                    return Results.Text(m.ToJson(), "application/json");
                }
                string json;
                lock (gate) json = media is not null ? media.ExplainText(input!).ToJson() : explainer.Explain(input!).ToJson();
                return Results.Text(json, "application/json");
            }
            catch (ArgumentException ex) { return Error(400, ex.Message); }
        });
        return app;
    }

    static IResult Error(int status, string message) => Results.Text(Json(w => w.WriteString("error", message)), "application/json", statusCode: status);

    static string Json(Action<Utf8JsonWriter> body)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }
}
