namespace RelayCluster.Core.Configuration;

/// <summary><c>Relay:SyncBatch</c>: the synchronous batch endpoint, <c>POST /v1/batch</c>.</summary>
public sealed class SyncBatchOptions
{
    /// <summary>
    /// Most requests one call may carry. The caller holds a connection open for the slowest of them, so this
    /// stays small; bulk work belongs in the Batch API.
    /// </summary>
    public int MaxRequests { get; set; } = 100;

    /// <summary>Requests of one call run at once; the tenant's own limits still apply to each of them.</summary>
    public int Concurrency { get; set; } = 16;

    /// <summary>Why these options cannot serve a call, or null.</summary>
    public string? Problem() =>
        MaxRequests < 1 ? "MaxRequests must be at least 1."
        : Concurrency < 1 ? "Concurrency must be at least 1."
        : null;
}
