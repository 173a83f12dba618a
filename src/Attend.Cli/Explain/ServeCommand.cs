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
/// </code>
/// Bound to 127.0.0.1 unless --host says otherwise; request bodies over <see cref="MaxBody"/> bytes are refused; no
/// request touches the file system (the page is built in memory at start). One request runs the model at a time.
/// </summary>
public static class ServeCommand
{
    /// <summary>The largest request body accepted, in bytes.</summary>
    public const int MaxBody = 16 * 1024;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder (attend quickstart's OUT/model, attend train lm/translate's --out)", Required = true };
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
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = MaxBody;
            o.Listen(ip, port);
        });
        var app = builder.Build();
        string page = HtmlReport.Live(explainer.Description, explainer.Example, explainer.MaxInput);
        var gate = new object();

        app.MapGet("/", () => Results.Text(page, "text/html; charset=utf-8"));
        app.MapGet("/api/info", () => Results.Text(Json(w =>
        {
            w.WriteString("model", explainer.Description); w.WriteString("example", explainer.Example); w.WriteNumber("max_input", explainer.MaxInput);
        }), "application/json"));
        app.MapPost("/api/explain", async (HttpRequest request) =>
        {
            if (request.ContentLength > MaxBody) return Error(413, $"the request is {request.ContentLength} bytes; at most {MaxBody}");
            string? input;
            try
            {
                using var doc = await JsonDocument.ParseAsync(request.Body);
                input = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("input", out var i) && i.ValueKind == JsonValueKind.String
                    ? i.GetString() : null;
            }
            catch (JsonException ex) { return Error(400, $"the request body is not JSON: {ex.Message}"); }
            catch (BadHttpRequestException ex) { return Error(ex.StatusCode, $"bad request: {ex.Message}"); }
            if (input is null) return Error(400, "send a JSON object {\"input\": \"…\"}");
            if (input.Length > explainer.MaxInput) return Error(400, $"the input has {input.Length} characters; this model reads at most {explainer.MaxInput}");
            try
            {
                string json;
                lock (gate) json = explainer.Explain(input).ToJson();
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
