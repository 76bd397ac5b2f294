using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Pmd.Telemetry;

/// <summary>
/// One reply, <c>{"/cmd":value}</c>, written with <see cref="Utf8JsonWriter"/> in at most
/// <see cref="Limit"/> bytes. The value is what DPDK's rte_tel_data holds: a dict of numbers,
/// strings and arrays of numbers, an array of numbers or strings, a string, or nothing (null). The size of
/// each entry is known before it is written, and one that would not fit is left out (and counted),
/// as DPDK's JSON helpers leave it out: the reply stays valid JSON that the client's one recv of
/// max_output_len bytes takes whole.
/// </summary>
internal sealed class TelemetryReply : IDisposable
{
    // What closes the reply after the value: "}}" after a dict, "]}" after an array.
    private const int Closing = 2;

    private static readonly JavaScriptEncoder s_encoder = JavaScriptEncoder.Default;

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _json;
    private ValueKind _kind;
    private int _entries;

    public TelemetryReply(string command, int limit = PmdTelemetry.MaxOutputLength)
    {
        Limit = limit;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = s_encoder });
        _json.WriteStartObject();
        _json.WritePropertyName(Encode(command));
    }

    private enum ValueKind
    {
        None,
        Dict,
        Array,
        String,
    }

    /// <summary>The most bytes the whole reply may take.</summary>
    public int Limit { get; }

    /// <summary>Entries left out because they did not fit.</summary>
    public int Omitted { get; private set; }

    private long Written => _json.BytesCommitted + _json.BytesPending;

    /// <summary>The reply <c>{"/cmd":null}</c>: DPDK's answer to an unknown command or a handler that failed.</summary>
    public static byte[] Null(string command)
    {
        using var reply = new TelemetryReply(command);
        return reply.ToArray();
    }

    public void StartDict() => Start(ValueKind.Dict);

    public void StartArray() => Start(ValueKind.Array);

    private void Start(ValueKind kind)
    {
        if (_kind != ValueKind.None) throw new InvalidOperationException("a reply has one value");
        _kind = kind;
        if (kind == ValueKind.Dict) _json.WriteStartObject();
        else _json.WriteStartArray();
    }

    /// <summary>The value is one string (DPDK's rte_tel_data_string); left null if it does not fit.</summary>
    public void SetString(string value)
    {
        if (_kind != ValueKind.None) throw new InvalidOperationException("a reply has one value");
        var text = Encode(value);
        // "…"} after the key: quotes and the closing brace.
        if (Written + text.EncodedUtf8Bytes.Length + 3 > Limit)
        {
            Omitted++;
            return;
        }
        _kind = ValueKind.String;
        _json.WriteStringValue(text);
    }

    // ---- Dict entries ----

    public void Add(string key, long value)
    {
        var name = DictEntry(key);
        if (Fits(NameSize(name) + Digits(value))) _json.WriteNumber(name, value);
    }

    public void Add(string key, ulong value)
    {
        var name = DictEntry(key);
        if (Fits(NameSize(name) + Digits(value))) _json.WriteNumber(name, value);
    }

    public void Add(string key, string value)
    {
        var name = DictEntry(key);
        var text = Encode(value);
        if (Fits(NameSize(name) + text.EncodedUtf8Bytes.Length + 2)) _json.WriteString(name, text);
    }

    /// <summary>A dict entry whose value is an array of numbers (DPDK's container of u64s, e.g. q_ipackets).</summary>
    public void Add(string key, ReadOnlySpan<ulong> values)
    {
        var name = DictEntry(key);
        int size = 2 + Math.Max(values.Length - 1, 0);
        foreach (ulong v in values) size += Digits(v);
        if (!Fits(NameSize(name) + size)) return;
        _json.WriteStartArray(name);
        foreach (ulong v in values) _json.WriteNumberValue(v);
        _json.WriteEndArray();
    }

    /// <summary>A dict entry whose value is an array of numbers.</summary>
    public void Add(string key, ReadOnlySpan<long> values)
    {
        var name = DictEntry(key);
        int size = 2 + Math.Max(values.Length - 1, 0);
        foreach (long v in values) size += Digits(v);
        if (!Fits(NameSize(name) + size)) return;
        _json.WriteStartArray(name);
        foreach (long v in values) _json.WriteNumberValue(v);
        _json.WriteEndArray();
    }

    // ---- Array items ----

    public void Add(long value)
    {
        ArrayItem();
        if (Fits(Digits(value))) _json.WriteNumberValue(value);
    }

    public void Add(string value)
    {
        ArrayItem();
        var text = Encode(value);
        if (Fits(text.EncodedUtf8Bytes.Length + 2)) _json.WriteStringValue(text);
    }

    private JsonEncodedText DictEntry(string key)
    {
        if (_kind != ValueKind.Dict) throw new InvalidOperationException("StartDict() first");
        return Encode(key);
    }

    private void ArrayItem()
    {
        if (_kind != ValueKind.Array) throw new InvalidOperationException("StartArray() first");
    }

    /// <summary>Whether an entry of <paramref name="size"/> bytes (and its comma) fits before the closing brackets; counts it as written if so.</summary>
    private bool Fits(int size)
    {
        int separator = _entries > 0 ? 1 : 0;
        if (Written + separator + size + Closing > Limit)
        {
            Omitted++;
            return false;
        }
        _entries++;
        return true;
    }

    /// <summary>The reply's bytes: the value written so far (null if none), closed.</summary>
    public byte[] ToArray()
    {
        switch (_kind)
        {
            case ValueKind.None: _json.WriteNullValue(); break;
            case ValueKind.Dict: _json.WriteEndObject(); break;
            case ValueKind.Array: _json.WriteEndArray(); break;
            case ValueKind.String: break;
        }
        _json.WriteEndObject();
        _json.Flush();
        return _buffer.WrittenSpan.ToArray();
    }

    public void Dispose() => _json.Dispose();

    private static JsonEncodedText Encode(string text) => JsonEncodedText.Encode(text, s_encoder);

    // "name": — quotes and colon around the encoded name.
    private static int NameSize(JsonEncodedText name) => name.EncodedUtf8Bytes.Length + 3;

    private static int Digits(ulong value)
    {
        int n = 1;
        while (value >= 10) { value /= 10; n++; }
        return n;
    }

    private static int Digits(long value) => value < 0 ? 1 + Digits((ulong)(-(value + 1)) + 1) : Digits((ulong)value);
}
