using RelayCluster.Core.Wire;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// How many bytes of upstream answers one caller's request may make the silo hold: one buffered call's answer, or
/// the answers of every request of a synchronous batch together (they wait in memory for input order). Reads
/// draw from it as bytes arrive, so nothing past the limit is ever held. Thread-safe: a batch's items share one.
/// </summary>
internal sealed class ResponseBudget
{
    private readonly Func<long, RelayError> _tooLarge;
    private long _left;

    private ResponseBudget(long limit, Func<long, RelayError> tooLarge)
    {
        Limit = limit;
        _left = limit;
        _tooLarge = tooLarge;
    }

    /// <summary>The limit in bytes (<c>Relay:Requests:MaxResponseBytes</c>).</summary>
    public long Limit { get; }

    /// <summary>The 502 a call gets when its answer would pass the budget.</summary>
    public RelayError TooLarge => _tooLarge(Limit);

    /// <summary>The budget of one call's answer: past it the call ends with 502 <c>upstream_response_too_large</c>.</summary>
    public static ResponseBudget ForCall(long limit) => new(limit, static max => new RelayError(502, new OpenAiError(
        $"The answer of the upstream provider was larger than the limit of this relay, {max} bytes, so it was not relayed. "
        + "Ask for fewer inputs or dimensions, use encoding_format 'base64' for embeddings, or use the Batch API.",
        "server_error", null, "upstream_response_too_large"), ShouldRetry: false));

    /// <summary>
    /// The budget of a synchronous batch's whole answer: a request whose answer no longer fits gets 502
    /// <c>response_too_large</c> as its result instead of its body.
    /// </summary>
    public static ResponseBudget ForBatch(long limit) => new(limit, static max => new RelayError(502, new OpenAiError(
        $"The answers of this batch together passed the limit of this relay, {max} bytes, so the answer to this request was dropped. "
        + "Send it again alone or in a smaller batch, or use the Batch API.",
        "server_error", null, "response_too_large"), ShouldRetry: false));

    /// <summary>Takes <paramref name="bytes"/> from the budget; false (and nothing taken) if they do not fit.</summary>
    public bool TryTake(long bytes)
    {
        while (true)
        {
            var left = Volatile.Read(ref _left);
            if (bytes > left)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _left, left - bytes, left) == left)
            {
                return true;
            }
        }
    }

    /// <summary>Gives back bytes of an answer that is no longer held (a dropped or failed one).</summary>
    public void Release(long bytes) => Interlocked.Add(ref _left, bytes);
}
