using System.CommandLine;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
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
/// Hardened as a local tool that a browser talks to:
/// <list type="bullet">
/// <item>bound to 127.0.0.1 unless --host says otherwise (another address prints a warning);</item>
/// <item>the Host header must name the bound address (or localhost, or an --allowed-hosts name), else 421: a web page
/// whose domain is made to resolve to 127.0.0.1 (DNS rebinding) cannot reach the API;</item>
/// <item>request bodies over <see cref="MaxBody"/> bytes (image/speech models: <see cref="MaxUploadBody"/>, files of at
/// most <see cref="MaxFile"/> bytes, images of at most <see cref="Vision.ImageFiles.MaxPixels"/> pixels) get 413, inputs
/// over the model's length 400;</item>
/// <item>one request runs the model at a time; <see cref="ServeLimits.Queue"/> more may wait, each at most
/// <see cref="ServeLimits.Wait"/>; beyond that 503 with Retry-After. Kestrel caps connections and times out slow headers
/// and slow bodies;</item>
/// <item>no request value reaches the file system (the page is built in memory at start; uploads are decoded in memory);</item>
/// <item>every response carries a Content-Security-Policy with no remote source (the page's one script allowed by its
/// SHA-256), nosniff, no framing, no referrer, no caching.</item>
/// </list>
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
        var host = new Option<string>("--host") { Description = "IP address to listen on (default: loopback only; another address lets other machines in)", DefaultValueFactory = _ => "127.0.0.1" };
        var allowed = new Option<string?>("--allowed-hosts") { Description = "also accept these Host names, comma-separated (e.g. a name this machine is reached by)" };
        var cmd = new Command("serve", "Serve the attention explorer: type an input in the browser, see the model's output and every layer and head.") { model, port, host, allowed };
        cmd.SetAction(pr =>
        {
            try
            {
                if (!IPAddress.TryParse(pr.GetValue(host), out var ip)) throw new ArgumentException($"--host must be an IP address, not '{pr.GetValue(host)}'");
                if (pr.GetValue(port) is < 0 or > 65535) throw new ArgumentException($"--port must be in 0…65535, not {pr.GetValue(port)}");
                var names = (pr.GetValue(allowed) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var explainer = Explainers.Load(pr.GetValue(model)!);
                using var app = Build(explainer, ip, pr.GetValue(port), new ServeLimits { AllowedHosts = names });
                if (!IPAddress.IsLoopback(ip))
                    Console.Error.WriteLine($"warning: listening on {ip}, not loopback: anyone who can reach this machine can run the model" +
                        (names.Length == 0 && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)) ? ", and any Host name is accepted (give --allowed-hosts to check it)" : ""));
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
    public static WebApplication Build(IAttentionExplainer explainer, IPAddress ip, int port, ServeLimits? limits = null)
    {
        limits ??= new ServeLimits();
        if (limits.Queue < 0 || limits.Wait <= TimeSpan.Zero || limits.MaxConnections < 1)
            throw new ArgumentException($"serve: Queue must be ≥ 0, Wait > 0 and MaxConnections ≥ 1 (got {limits.Queue}, {limits.Wait}, {limits.MaxConnections})");
        var media = explainer as IMediaExplainer;
        int maxBody = media is null ? MaxBody : MaxUploadBody;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = maxBody;
            o.Limits.MaxConcurrentConnections = limits.MaxConnections;
            o.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            o.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            o.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            o.AddServerHeader = false;
            o.Listen(ip, port);
        });
        var app = builder.Build();
        string page = HtmlReport.Live(explainer.Description, explainer.Example, explainer.MaxInput, media?.Accept, MaxFile, media?.TakesText ?? true);
        string csp = ContentSecurityPolicy(page);
        var hosts = HostNames(ip, limits.AllowedHosts);
        var model = new ModelGate(limits);

        app.Use(async (ctx, next) =>
        {
            var h = ctx.Response.Headers;
            h.ContentSecurityPolicy = csp;
            h.XContentTypeOptions = "nosniff";
            h.XFrameOptions = "DENY";
            h["Referrer-Policy"] = "no-referrer";
            h["Cross-Origin-Opener-Policy"] = "same-origin";
            h["Cross-Origin-Resource-Policy"] = "same-origin";
            h.CacheControl = "no-store";
            string name = ctx.Request.Host.Host.ToLowerInvariant();
            if (hosts is not null && !hosts.Contains(name))
            {
                await Error(421, $"Host '{ctx.Request.Host}' is not this server's address ({string.Join(", ", hosts)}); a page reaching it " +
                    "through another name (DNS rebinding) is refused — start attend serve with --allowed-hosts to accept a name").ExecuteAsync(ctx);
                return;
            }
            await next();
        });

        app.MapGet("/", () => Results.Text(page, "text/html; charset=utf-8"));
        var info = new ServeInfo(explainer.Description, explainer.Example, explainer.MaxInput, media?.Accept, media is null ? null : MaxFile, media?.TakesText);
        app.MapGet("/api/info", () => Results.Json(info, ServeJson.Default.ServeInfo, "application/json"));
        app.MapPost("/api/explain", async (HttpRequest request) =>
        {
            if (await model.Enter(request.HttpContext) is { } busy) return busy;
            try { return await Explain(explainer, request.Body, request.ContentLength, maxBody); }
            finally { model.Leave(); }
        });

        return app;
    }


    /// <summary>The answer to <c>POST /api/explain</c> with <paramref name="body"/> (<paramref name="length"/> bytes when
    /// the request says): the explanation JSON, or the error with its status (400, 413). Any exception other than a
    /// client's is a bug (the fuzz target "explorer-request" feeds it arbitrary bodies).</summary>
    internal static async Task<IResult> Explain(IAttentionExplainer explainer, Stream body, long? length, int maxBody)
    {
        var media = explainer as IMediaExplainer;
        if (length > maxBody) return Error(413, $"the request is {length} bytes; at most {maxBody}");
        string? input = null, file = null, name = null;
        try
        {
            if (await JsonSerializer.DeserializeAsync(body, ServeJson.Default.ExplainRequest) is { } request)
                (input, file, name) = (request.Input, request.File, request.Name);
        }
        catch (JsonException ex) { return Error(400, $"the request body is not JSON of the form {{\"input\": \"…\"}}: {ex.Message}"); }
        catch (InvalidOperationException ex) { return Error(400, $"the request body is not UTF-8 JSON: {ex.Message}"); }   // a string that is not UTF-8
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
                var m = media!.ExplainFile(bytes, label.Length > 100 ? label[..100] : label);
                return Results.Text(m.ToJson(), "application/json");
            }
            string json = media is not null ? media.ExplainText(input!).ToJson() : explainer.Explain(input!).ToJson();
            return Results.Text(json, "application/json");
        }
        catch (ArgumentException ex) { return Error(400, ex.Message); }
    }

    /// <summary>The policy of every response: nothing from elsewhere, the page's inline script by its SHA-256, its styles,
    /// images from data: URLs (the PNG overlays), requests to this server only, no framing, no forms, no base URL.</summary>
    internal static string ContentSecurityPolicy(string page)
    {
        var hashes = System.Text.RegularExpressions.Regex.Matches(page, "<script>(.*?)</script>", System.Text.RegularExpressions.RegexOptions.Singleline)
            .Select(m => $"'sha256-{Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(m.Groups[1].Value)))}'");
        return $"default-src 'none'; script-src {string.Join(' ', hashes)}; style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'; " +
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    }

    /// <summary>The Host names (without port, lower case) a request may carry: the bound address's — with localhost and
    /// both loopback literals for a loopback address — and <paramref name="extra"/>; null (any) for a wildcard address
    /// with no extra names.</summary>
    internal static HashSet<string>? HostNames(IPAddress ip, IReadOnlyList<string> extra)
    {
        bool wildcard = ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any);
        if (wildcard && extra.Count == 0) return null;
        var names = new HashSet<string>(extra.Select(n => n.ToLowerInvariant()));
        if (IPAddress.IsLoopback(ip) || wildcard) names.UnionWith(["localhost", "127.0.0.1", "[::1]"]);
        if (!wildcard) names.Add(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString());
        return names;
    }

    internal static IResult Error(int status, string message) => Results.Json(new ServeError(message), ServeJson.Default.ServeError, "application/json", status);
}

/// <summary><c>GET /api/info</c>: the model, an example input, the longest input; for image/speech models the file
/// types taken, the largest file and whether text is taken too.</summary>
internal sealed record ServeInfo(string Model, string Example, int MaxInput, string? Accept, int? MaxFile, bool? Text);

/// <summary>The body of <c>POST /api/explain</c>: text, or a base64 file with its name.</summary>
internal sealed record ExplainRequest(string? Input, string? File, string? Name);

/// <summary>Every error answer: <c>{"error": "…"}</c>.</summary>
internal sealed record ServeError(string Error);

/// <summary>serve's JSON, source-generated: no reflection at run time, so trimming and NativeAOT keep it whole.
/// Names in snake_case (max_input); absent values are left out.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ServeInfo))]
[JsonSerializable(typeof(ExplainRequest))]
[JsonSerializable(typeof(ServeError))]
internal sealed partial class ServeJson : JsonSerializerContext;
