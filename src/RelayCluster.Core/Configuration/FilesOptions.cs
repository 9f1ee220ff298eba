namespace RelayCluster.Core.Configuration;

/// <summary>The file store behind /v1/files (and the Batch API's input and output files).</summary>
public sealed class FilesOptions
{
    /// <summary>
    /// Directory of the store. In a cluster every silo points at the same shared volume: all metadata lives
    /// there beside the content, none in a silo's memory.
    /// </summary>
    public string Path { get; set; } = "data/files";

    /// <summary>Uploads above this get 413 while they stream in; OpenAI's limit for batch input files.</summary>
    public long MaxUploadBytes { get; set; } = 200L * 1024 * 1024;

    /// <summary>
    /// Storage limit per tenant in bytes (all its visible files together, uploads in progress included): an upload
    /// that would pass it is refused with 413 <c>storage_quota_exceeded</c> as it streams in. 10 GiB by default;
    /// <c>Relay:Tenants:{id}:MaxFileBytes</c> overrides it for one configured tenant.
    /// </summary>
    public long MaxBytesPerTenant { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>Lifetime of <c>batch</c> (and <c>batch_output</c>) files uploaded without <c>expires_after</c>: 30 days, as OpenAI's.</summary>
    public long DefaultExpirySeconds { get; set; } = 30L * 24 * 3600;

    /// <summary>How often each silo deletes expired files (every silo sweeps; deletes are safe to race).</summary>
    public double SweepIntervalSeconds { get; set; } = 600;
}
