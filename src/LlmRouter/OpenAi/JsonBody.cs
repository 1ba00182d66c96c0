using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using LlmRouter.Errors;

namespace LlmRouter.OpenAi;

/// <summary>
/// A request body read whole into a pooled buffer and parsed once. Kestrel enforces the size limit
/// (<c>max_request_size_mb</c>) while reading, which surfaces as a 413.
/// </summary>
internal sealed class JsonBody : IDisposable
{
    private byte[]? _buffer;
    private readonly JsonDocument _document;

    private JsonBody(byte[] buffer, JsonDocument document)
    {
        _buffer = buffer;
        _document = document;
    }

    public JsonElement Root => _document.RootElement;

    public static async Task<JsonBody> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(request.ContentLength is > 0 and < 1 << 20 ? (int)request.ContentLength.Value : 4096);
        var length = 0;
        try
        {
            var reader = request.BodyReader;
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken);
                foreach (var segment in result.Buffer)
                {
                    if (length + segment.Length > buffer.Length) buffer = Grow(buffer, length, length + segment.Length);
                    segment.Span.CopyTo(buffer.AsSpan(length));
                    length += segment.Length;
                }
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted) break;
            }
            if (length == 0) throw new ApiErrorException(ApiError.InvalidRequest("Request body is empty; expected a JSON object."));
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(buffer.AsMemory(0, length), new JsonDocumentOptions { MaxDepth = 128 });
            }
            catch (JsonException e)
            {
                throw new ApiErrorException(ApiError.InvalidRequest($"Request body is not valid JSON: {e.Message}"));
            }
            try
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                    throw new ApiErrorException(ApiError.InvalidRequest("Request body must be a JSON object."));
                JsonSurrogates.Check(buffer.AsSpan(0, length), document.RootElement);
            }
            catch
            {
                document.Dispose();
                throw;
            }
            return new JsonBody(buffer, document);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static byte[] Grow(byte[] buffer, int used, int needed)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, buffer.Length * 2));
        buffer.AsSpan(0, used).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        return bigger;
    }

    public void Dispose()
    {
        _document.Dispose();
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
