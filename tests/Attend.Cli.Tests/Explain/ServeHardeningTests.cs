using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Attend.Cli.Explain;
using Attend.Interpret;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>
/// <c>attend serve</c> as something a browser and other machines can reach: the Host check against DNS rebinding, the
/// security headers (a CSP whose script hash is the page's script), the bounded queue in front of the model (503 with
/// Retry-After when full or after the wait), concurrent requests answered exactly as one at a time, and decompression
/// bombs refused from the header.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class ServeHardeningTests
{
    /// <summary>An explainer that blocks in <see cref="Explain"/> until released, and counts how many run at once.</summary>
    sealed class SlowExplainer : IAttentionExplainer
    {
        public readonly SemaphoreSlim Release = new(0);
        public int Running, MostAtOnce;
        public string Description => "a test model";
        public string Example => "x";
        public int MaxInput => 10;
        public Explanation Explain(string input)
        {
            int now = Interlocked.Increment(ref Running);
            lock (this) MostAtOnce = Math.Max(MostAtOnce, now);
            Release.Wait(TimeSpan.FromSeconds(30));
            Interlocked.Decrement(ref Running);
            return new Explanation("slow", input, input.ToUpperInvariant(), []);
        }
    }

    /// <summary>A started <see cref="ServeCommand.Build"/> app on a free loopback port and a client for it.</summary>
    sealed class Server(Microsoft.AspNetCore.Builder.WebApplication app) : IAsyncDisposable
    {
        public HttpClient Http { get; } = new() { BaseAddress = new Uri(app.Urls.Single()) };
        public async ValueTask DisposeAsync() { Http.Dispose(); await app.StopAsync(); await app.DisposeAsync(); }
    }

    static async Task<Server> Start(IAttentionExplainer e, ServeLimits? limits = null)
    {
        var app = ServeCommand.Build(e, IPAddress.Loopback, 0, limits);
        await app.StartAsync();
        return new Server(app);
    }

    /// <summary>A <see cref="SlowExplainer"/> that lets its first 10 calls through at once.</summary>
    static SlowExplainer Unblocked()
    {
        var slow = new SlowExplainer();
        slow.Release.Release(10);
        return slow;
    }

    static StringContent Body(string input) => new(JsonSerializer.Serialize(new Dictionary<string, string> { ["input"] = input }), Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_foreign_host_name_gets_421_and_the_bound_names_pass()
    {
        var slow = Unblocked();
        await using var server = await Start(slow);
        var http = server.Http;
        foreach (var host in new[] { "evil.example", "evil.example:80", "127.0.0.2" })
        {
            using var req = new HttpRequestMessage(HttpMethod.Post, "/api/explain") { Content = Body("abc") };
            req.Headers.Host = host;
            var r = await http.SendAsync(req);
            Assert.Equal((HttpStatusCode)421, r.StatusCode);
            Assert.Contains("DNS rebinding", await r.Content.ReadAsStringAsync());
        }
        Assert.Equal(0, slow.MostAtOnce);                                             // the model never ran for them
        int port = http.BaseAddress!.Port;
        foreach (var host in new[] { $"127.0.0.1:{port}", $"localhost:{port}", $"LOCALHOST:{port}", $"[::1]:{port}" })
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, "/api/info");
            req.Headers.Host = host;
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(req)).StatusCode);
        }
        Assert.Null(ServeCommand.HostNames(IPAddress.Any, []));                      // 0.0.0.0 without names: any (with a warning)
        Assert.Equal(new[] { "10.0.0.5", "box.lan" }, ServeCommand.HostNames(IPAddress.Parse("10.0.0.5"), ["Box.lan"])!.Order());
    }

    [Fact]
    public async Task Every_response_carries_a_csp_without_remote_sources_whose_hash_is_the_pages_script()
    {
        var slow = Unblocked();
        await using var server = await Start(slow);
        var http = server.Http;
        var page = await http.GetAsync("/");
        string html = await page.Content.ReadAsStringAsync();
        foreach (var r in new[] { page, await http.GetAsync("/api/info"), await http.PostAsync("/api/explain", Body("abc")), await http.GetAsync("/nothing") })
        {
            string csp = r.Headers.GetValues("Content-Security-Policy").Single();
            Assert.StartsWith("default-src 'none'; script-src 'sha256-", csp);
            Assert.DoesNotContain("http", csp);
            Assert.DoesNotContain("'unsafe-eval'", csp);
            Assert.Contains("frame-ancestors 'none'", csp);
            Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", r.Headers.GetValues("X-Frame-Options").Single());
            Assert.False(r.Headers.Contains("Server"));
        }
        var script = Regex.Match(html, "<script>(.*?)</script>", RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains("Attend.live", script);
        string hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(script)));
        Assert.Contains($"script-src 'sha256-{hash}';", page.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task The_model_runs_one_request_at_a_time_a_full_queue_gets_503_and_a_long_wait_gets_503()
    {
        var slow = new SlowExplainer();
        await using var server = await Start(slow, new ServeLimits { Queue = 1, Wait = TimeSpan.FromSeconds(20) });
        var http = server.Http;
        var first = http.PostAsync("/api/explain", Body("one"));                     // runs, blocked in the model
        while (Volatile.Read(ref slow.Running) == 0) await Task.Delay(10);
        var second = http.PostAsync("/api/explain", Body("two"));                    // waits
        await Task.Delay(200);
        var third = await http.PostAsync("/api/explain", Body("three"));             // the queue is full
        Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
        Assert.Equal("1", third.Headers.GetValues("Retry-After").Single());
        Assert.Contains("one request runs the model and 1 wait", await third.Content.ReadAsStringAsync());
        slow.Release.Release(2);
        foreach (var (t, want) in new[] { (first, "ONE"), (second, "TWO") })
        {
            var r = await t;
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(want, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("output").GetString());
        }
        Assert.Equal(1, slow.MostAtOnce);

        await using var server2 = await Start(slow, new ServeLimits { Queue = 4, Wait = TimeSpan.FromMilliseconds(300) });
        var http2 = server2.Http;
        var holding = http2.PostAsync("/api/explain", Body("hold"));
        while (Volatile.Read(ref slow.Running) == 0) await Task.Delay(10);
        var waited = await http2.PostAsync("/api/explain", Body("late"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, waited.StatusCode);
        Assert.Contains("waited 0.3 s for the model", await waited.Content.ReadAsStringAsync());
        slow.Release.Release();
        Assert.Equal(HttpStatusCode.OK, (await holding).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http2.GetAsync("/api/info")).StatusCode);   // and it still serves
    }

    [Fact]
    public void An_image_that_claims_more_pixels_than_the_cap_is_refused_from_its_header()
    {
        // A PNG of 20,000 × 20,000 RGB pixels (1.6 GB decoded) in a few hundred bytes: its IHDR, one row of zeros in IDAT, IEND.
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        void Chunk(string type, byte[] data)
        {
            var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
            png.Write([(byte)(data.Length >> 24), (byte)(data.Length >> 16), (byte)(data.Length >> 8), (byte)data.Length]);
            png.Write(typed);
            uint crc = 0xFFFFFFFF;                                                      // PNG's CRC-32 (ISO 3309)
            foreach (byte b in typed)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
            crc ^= 0xFFFFFFFF;
            png.Write([(byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc]);
        }
        Chunk("IHDR", [0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0]);
        var row = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(row, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true)) z.Write(new byte[1 + 3 * 20000]);
        Chunk("IDAT", row.ToArray());
        Chunk("IEND", []);
        Assert.True(png.Length < 1000);
        var e = Assert.Throws<Vision.VisionException>(() => Vision.ImageFiles.Decode(png.ToArray(), "bomb.png", 32, 3, out _));
        Assert.Contains("bomb.png: 20000×20000 pixels; at most 16,777,216 (4096 × 4096) are decoded", e.Message);
    }
}
