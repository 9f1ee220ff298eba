using System.Buffers;
using System.Runtime.CompilerServices;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// Reads an upstream body whole, never holding more than a <see cref="ResponseBudget"/> allows. The body is
/// gathered in 64 KiB pieces (no doubling copies) and copied once into an array of its exact size, so a body of N
/// bytes costs at most about 2N while it is read. The pieces are rented from the shared pool and returned: a new
/// 64 KiB piece per answer was 70 % of the bytes a silo allocated per non-streaming request (typical answers are
/// well under 1 KiB).
/// </summary>
internal static class BoundedRead
{
    private const int PieceBytes = 64 * 1024;

    /// <summary>
    /// The whole body, or null once it passes what the budget has left (reading stops there; the caller disposes
    /// the upstream response, which drops the connection). Bytes returned stay taken from the budget; on null or
    /// on an exception nothing read stays taken. A pooled <see cref="ValueTask{TResult}"/>: await it once.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<byte[]?> ReadAsync(Stream stream, ResponseBudget budget, CancellationToken cancellationToken)
    {
        // The first piece is all a typical answer needs: the list of further pieces is made only past 64 KiB.
        var first = ArrayPool<byte>.Shared.Rent(PieceBytes);
        List<byte[]>? more = null;
        var last = first;
        var lastLength = 0;
        long taken = 0;
        var complete = false;
        try
        {
            while (true)
            {
                if (lastLength == PieceBytes)
                {
                    last = ArrayPool<byte>.Shared.Rent(PieceBytes);
                    (more ??= []).Add(last);
                    lastLength = 0;
                }

                var read = await stream.ReadAsync(last.AsMemory(lastLength, PieceBytes - lastLength), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                if (!budget.TryTake(read))
                {
                    return null;
                }

                taken += read;
                lastLength += read;
            }

            var body = new byte[taken];
            var offset = CopyPiece(first, body, 0);
            for (var i = 0; more is not null && i < more.Count; i++)
            {
                offset = CopyPiece(more[i], body, offset);
            }

            complete = true;
            return body;
        }
        finally
        {
            if (!complete)
            {
                budget.Release(taken);
            }

            ArrayPool<byte>.Shared.Return(first);
            for (var i = 0; more is not null && i < more.Count; i++)
            {
                ArrayPool<byte>.Shared.Return(more[i]);
            }
        }
    }

    /// <summary>Copies what <paramref name="piece"/> holds of <paramref name="body"/> from <paramref name="offset"/>; the offset after it.</summary>
    private static int CopyPiece(byte[] piece, byte[] body, int offset)
    {
        var length = Math.Min(PieceBytes, body.Length - offset);
        piece.AsSpan(0, length).CopyTo(body.AsSpan(offset));
        return offset + length;
    }
}
