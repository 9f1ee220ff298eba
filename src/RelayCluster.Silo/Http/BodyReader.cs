using System.Buffers;
using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Http;

/// <summary>Reads a request body whole, up to a limit: bigger bodies get 413 before they are buffered.</summary>
internal static class BodyReader
{
    public static async Task<(ReadOnlyMemory<byte> Body, RelayError? Error)> ReadAsync(HttpRequest request, long limit)
    {
        if (request.ContentLength > limit)
        {
            return (default, RelayError.BodyTooLarge(limit));
        }

        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(request.HttpContext.RequestAborted);
            if (result.Buffer.Length > limit)
            {
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                return (default, RelayError.BodyTooLarge(limit));
            }

            if (result.IsCompleted)
            {
                var body = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                return (body, null);
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
