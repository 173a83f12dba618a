using Attend.Data;
using Attend.Interop;
using Attend.Nn;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests.Interop;

/// <summary>
/// What goes wrong on the way in, each refused with an exception whose message names what was wrong: cut ONNX files,
/// an ONNX model that is not BERT, vocabularies that do not fit, ids out of range, a sequence with no real token; and
/// the edges that are not errors: more than 512 pieces (cut, with [SEP] kept) and the empty string ([CLS] [SEP]).
/// </summary>
public sealed class BertBadInputTests(ITestOutputHelper output) : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("attend-bad-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(root, recursive: true); } catch (IOException) { }
    }

    private static Pretrained MiniLM => Pretrained.Get("minilm");

    [Theory]
    [InlineData(1 << 20)]
    [InlineData(-2)]          // half the file
    public void TruncatedOnnxIsRefused(int bytes)
    {
        var onnx = MiniLM.Onnx;
        int n = bytes == -2 ? onnx.Length / 2 : bytes;
        var cut = onnx[..n];
        var ex = Assert.Throws<InvalidDataException>(() => Bert.FromOnnx(new MemoryStream(cut), null, "cut.onnx"));
        output.WriteLine($"{n} of {onnx.Length} bytes: {ex.Message}");
        Assert.StartsWith("cut.onnx: not a readable ONNX model", ex.Message);
        Assert.Contains("is the file complete?", ex.Message);

        // Through Bert.Load the message names the file.
        string path = Path.Combine(root, $"cut{n}.onnx");
        File.WriteAllBytes(path, cut);
        var ex2 = Assert.Throws<InvalidDataException>(() => Bert.Load(path));
        Assert.Contains(path, ex2.Message);
    }

    [Fact]
    public void TextFileIsNotAnOnnxModel()
    {
        string path = Path.Combine(root, "notes.onnx");
        File.WriteAllText(path, "In the beginning God created the heaven and the earth.\n");
        var ex = Assert.ThrowsAny<InvalidDataException>(() => Bert.Load(path));
        output.WriteLine(ex.Message);
        Assert.Contains(path, ex.Message);
    }

    /// <summary>A valid ONNX model (ONNX Runtime runs it) of one Relu: y = relu(x + b).</summary>
    private static byte[] ReluModel()
    {
        var graph = new GraphProto { Name = "relu" };
        graph.Input.Add(Value("x"));
        graph.Output.Add(Value("y"));
        var bias = new TensorProto { Name = "b", DataType = (int)TensorProto.Types.DataType.Float };
        bias.Dims.Add(4);
        bias.FloatData.AddRange([1f, -1f, 2f, -2f]);
        graph.Initializer.Add(bias);
        graph.Node.Add(new NodeProto { OpType = "Add", Name = "add", Input = { "x", "b" }, Output = { "s" } });
        graph.Node.Add(new NodeProto { OpType = "Relu", Name = "relu", Input = { "s" }, Output = { "y" } });
        var model = new ModelProto { IrVersion = 8, ProducerName = "Attend.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model.ToByteArray();

        static ValueInfoProto Value(string name)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 4 });
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }
    }

    [Fact]
    public void OnnxThatIsNotBertNamesTheMissingEmbeddings()
    {
        var bytes = ReluModel();
        using (var session = new InferenceSession(bytes))   // a real ONNX model: ONNX Runtime loads and runs it
        {
            using var r = session.Run([NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(new float[] { 0, 0, 0, 0 }, [4]))]);
            Assert.Equal([1f, 0f, 2f, 0f], r.First().AsEnumerable<float>());
        }
        var ex = Assert.Throws<InvalidDataException>(() => Bert.FromOnnx(new MemoryStream(bytes), null, "relu.onnx"));
        output.WriteLine(ex.Message);
        Assert.Contains("relu.onnx: not a BERT encoder", ex.Message);
        Assert.Contains("embeddings.word_embeddings.weight", ex.Message);
        Assert.Contains("its initializers begin b", ex.Message);
    }

    [Fact]
    public void VocabularyShorterThanTheEmbeddingsNamesBothCounts()
    {
        var lines = MiniLM.Vocab.Replace("\r\n", "\n").Split('\n')[..30000];
        var ex = Assert.Throws<InvalidDataException>(() => Bert.FromOnnx(new MemoryStream(MiniLM.Onnx), new WordPieceTokenizer(lines), "model.onnx"));
        output.WriteLine(ex.Message);
        Assert.Contains("the vocabulary has 30000 tokens but embeddings.word_embeddings.weight has 30522 rows", ex.Message);

        // The same through Bert.Load: vocab.txt beside model.onnx.
        string dir = Directory.CreateDirectory(Path.Combine(root, "short")).FullName;
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), MiniLM.Onnx);
        File.WriteAllText(Path.Combine(dir, "vocab.txt"), string.Join("\n", lines) + "\n");
        var ex2 = Assert.Throws<InvalidDataException>(() => Bert.Load(dir));
        Assert.Contains("30000", ex2.Message);
        Assert.Contains("30522", ex2.Message);
        Assert.Contains(Path.Combine(dir, "model.onnx"), ex2.Message);
    }

    [Fact]
    public void VocabularyWithoutClsIsRefused()
    {
        var lines = MiniLM.Vocab.Replace("\r\n", "\n").Split('\n')[..30522];
        Assert.Equal("[CLS]", lines[101]);
        lines[101] = "[unused_cls]";
        var ex = Assert.Throws<ArgumentException>(() => new WordPieceTokenizer(lines));
        output.WriteLine(ex.Message);
        Assert.Contains("has no [CLS] token", ex.Message);

        // From a folder: the message names the file.
        string dir = Directory.CreateDirectory(Path.Combine(root, "nocls")).FullName;
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), MiniLM.Onnx);
        File.WriteAllText(Path.Combine(dir, "vocab.txt"), string.Join("\n", lines) + "\n");
        var ex2 = Assert.Throws<InvalidDataException>(() => Bert.Load(dir));
        output.WriteLine(ex2.Message);
        Assert.Contains(Path.Combine(dir, "vocab.txt"), ex2.Message);
        Assert.Contains("[CLS]", ex2.Message);
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic")]
    public void TextLongerThan512PiecesIsCutKeepingSep(string model)
    {
        var p = Pretrained.Get(model);
        var tok = p.Bert.Tokenizer!;
        string text = string.Join(" ", Pretrained.Verses().Take(40));
        int pieces = tok.Encode(text, out _).Length;
        Assert.True(pieces > 600, $"only {pieces} pieces");
        var input = tok.Encode(text);
        output.WriteLine($"{model}: {pieces} pieces → Length {input.Length}, Dropped {input.Dropped}");
        Assert.Equal(512, input.Length);
        Assert.Equal(pieces - 510, input.Dropped);
        Assert.Equal(tok.ClsId, input.Ids[0]);
        Assert.Equal(tok.SepId, input.Ids[^1]);

        // The package cuts at 512 pieces too, but after adding [SEP], which is lost: its last is a word piece. The first 511 agree.
        var theirs = Package.Tokenizer(model).Encode(text)[0].InputIds;
        Assert.Equal(512, theirs.Length);
        Assert.NotEqual(tok.SepId, theirs[^1]);
        Assert.Equal(theirs[..511], input.Ids[..511]);

        // Bert.Encode cuts the same way and gives a unit vector, equal to embedding the cut input.
        var e = p.Bert.Encode([text, "In the beginning"]);
        Assert.All(e[0], v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1.0, Math.Sqrt(e[0].Sum(v => (double)v * v)), 5);
        var direct = p.Bert.Embed([input]);
        Assert.True(Package.Cosine(direct[0], e[0]) > 0.999999);

        // Forward itself refuses more tokens than positions.
        var ids = Tensor.FromArray(Enumerable.Repeat((long)tok.ClsId, 513).ToArray(), [1, 513]);
        var ex = Assert.Throws<ArgumentException>(() => p.Bert.Forward(ids));
        Assert.Contains("513 tokens, but the model has 512 positions", ex.Message);
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic")]
    public void EmptyStringIsClsSepAndEmbedsAsThePackageDoes(string model)
    {
        var p = Pretrained.Get(model);
        var tok = p.Bert.Tokenizer!;
        foreach (var s in new[] { "", "   ", "\n\t" })
        {
            var input = tok.Encode(s);
            Assert.Equal([tok.ClsId, tok.SepId], input.Ids);
            Assert.Equal([0L, 0L], input.TypeIds);
        }
        Assert.Equal([101L, 102L], Package.Tokenizer(model).Encode("")[0].InputIds);

        var reference = Package.Encode(model, [""])[0];
        var ours = model == "minilm" ? p.Bert.Encode([""])[0] : PackagePipelineTests.ClsPooled(p.Bert, [""])[0];
        Assert.All(ours, v => Assert.True(float.IsFinite(v)));
        double cos = Package.Cosine(reference, ours);
        output.WriteLine($"{model}: \"\" → [CLS] [SEP]; cosine with the package's embedding of \"\" = {cos:F9} (1 − cos = {1 - cos:E2})");
        Assert.True(cos >= 0.99999);
    }

    [Fact]
    public void SequenceWithNoRealTokenIsRefused()
    {
        var bert = MiniLM.Bert;
        var ids = Tensor.FromArray(new long[] { 101, 7592, 102, 101, 102, 0 }, [2, 3]);
        var mask = Tensor.FromArray(new long[] { 1, 1, 1, 0, 0, 0 }, [2, 3]);
        var ex = Assert.Throws<ArgumentException>(() => bert.Forward(ids, mask));
        output.WriteLine(ex.Message);
        Assert.Contains("attention_mask of sequence 1 has no real token", ex.Message);
        // Float and bool masks too.
        var fmask = Tensor.FromArray(new float[] { 0, 0, 0, 1, 1, 0 }, [2, 3]);
        Assert.Contains("sequence 0", Assert.Throws<ArgumentException>(() => bert.Forward(ids, fmask)).Message);
        var bmask = Tensor.FromArray(new[] { true, true, false, false, false, false }, [2, 3]);
        Assert.Contains("sequence 1", Assert.Throws<ArgumentException>(() => bert.Forward(ids, bmask)).Message);

        // An int64 0/1 mask (Hugging Face's, ONNX Runtime's) means what a bool mask means.
        var good = Tensor.FromArray(new long[] { 1, 1, 1, 1, 1, 0 }, [2, 3]);
        var goodBool = Tensor.FromArray(new[] { true, true, true, true, true, false }, [2, 3]);
        using (Autograd.NoGrad())
            Assert.Equal(bert.Forward(ids, goodBool).ToArray(), bert.Forward(ids, good).ToArray());
    }

    [Theory]
    [InlineData(30522L)]
    [InlineData(-1L)]
    [InlineData(1L << 40)]
    public void IdOutOfRangeIsNamed(long bad)
    {
        var bert = MiniLM.Bert;
        var ids = Tensor.FromArray(new long[] { 101, bad, 102 }, [1, 3]);
        var ex = Assert.Throws<ArgumentException>(() => bert.Forward(ids));
        output.WriteLine(ex.Message);
        Assert.Contains($"input_ids holds {bad}, outside [0, 30522)", ex.Message);

        var types = Tensor.FromArray(new long[] { 0, 2, 0 }, [1, 3]);
        var ex2 = Assert.Throws<ArgumentException>(() => bert.Forward(Tensor.FromArray(new long[] { 101, 7592, 102 }, [1, 3]), null, types));
        Assert.Contains("token_type_ids holds 2, outside [0, 2)", ex2.Message);
    }
}
