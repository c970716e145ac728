using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Boxes.Billing.Usage;

/// <summary>
/// The feed's two formats, written byte for byte the same for the same records: invariant culture, fixed time and
/// number formats, a fixed field order, <c>\n</c> line ends.
/// </summary>
public static class UsageFormats
{
    public const string Ndjson = "ndjson";
    public const string Csv = "csv";
    public static readonly string[] All = [Ndjson, Csv];

    public const string NdjsonContentType = "application/x-ndjson; charset=utf-8";
    public const string CsvContentType = "text/csv; charset=utf-8";

    public const string CsvHeader = "id,organizationId,boxId,kind,weight,size,start,end,vcpus,vcpuSeconds";

    public static string ContentType(string format) => format == Csv ? CsvContentType : NdjsonContentType;

    public static byte[] Write(string format, IReadOnlyList<UsageRecord> records) => format == Csv ? WriteCsv(records) : WriteNdjson(records);

    /// <summary>One JSON object per line: <c>{id, organizationId, boxId, kind, weight, size, start, end, vcpus, vcpuSeconds}</c>.</summary>
    public static byte[] WriteNdjson(IReadOnlyList<UsageRecord> records)
    {
        using var buffer = new MemoryStream();
        foreach (var record in records)
        {
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("id", Id(record.Id));
                json.WriteString("organizationId", Id(record.OrganizationId));
                json.WriteString("boxId", Id(record.BoxId));
                json.WriteString("kind", record.Kind);
                WriteNullable(json, "weight", record.Weight);
                WriteNullable(json, "size", record.Size);
                json.WriteString("start", Time(record.Start));
                json.WriteString("end", Time(record.End));
                json.WritePropertyName("vcpus");
                json.WriteRawValue(Vcpus(record.Vcpus));
                json.WritePropertyName("vcpuSeconds");
                json.WriteRawValue(VcpuSeconds(record.VcpuMilliseconds));
                json.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
        }
        return buffer.ToArray();
    }

    /// <summary>RFC 4180 fields under the header line; an absent weight or size is an empty field; <c>\n</c> line ends.</summary>
    public static byte[] WriteCsv(IReadOnlyList<UsageRecord> records)
    {
        var text = new StringBuilder(CsvHeader.Length + 1 + records.Count * 200);
        text.Append(CsvHeader).Append('\n');
        foreach (var r in records)
        {
            text.Append(Id(r.Id)).Append(',')
                .Append(Id(r.OrganizationId)).Append(',')
                .Append(Id(r.BoxId)).Append(',')
                .Append(CsvField(r.Kind)).Append(',')
                .Append(CsvField(r.Weight)).Append(',')
                .Append(CsvField(r.Size)).Append(',')
                .Append(Time(r.Start)).Append(',')
                .Append(Time(r.End)).Append(',')
                .Append(Vcpus(r.Vcpus)).Append(',')
                .Append(VcpuSeconds(r.VcpuMilliseconds)).Append('\n');
        }
        return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text.ToString());
    }

    /// <summary>A time as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (UTC, milliseconds).</summary>
    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>vCPU-milliseconds as vCPU-seconds with exactly three decimals.</summary>
    public static string VcpuSeconds(long vcpuMilliseconds) =>
        (vcpuMilliseconds / 1000m).ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>The rate as configured: no trailing zeros (2, 0.5).</summary>
    public static string Vcpus(decimal vcpus) => vcpus.ToString("0.############################", CultureInfo.InvariantCulture);

    private static string Id(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null) json.WriteNull(name);
        else json.WriteString(name, value);
    }

    /// <summary>RFC 4180: a field holding a comma, a double quote, CR or LF is quoted, its quotes doubled.</summary>
    public static string CsvField(string? value) =>
        value is null ? ""
        : value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
        : value;
}
