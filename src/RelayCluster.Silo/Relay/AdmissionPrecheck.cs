using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Relay;

/// <summary>
/// A refusal found before a large body is parsed: a paused tenant, or one whose concurrency, request window or
/// budget is already full, is told so without the relay spending CPU on a body it will refuse anyway (a 4 MB body
/// of tiny messages costs most of a second to parse). The grain decides by its own rules (<see cref="TenantBook.Precheck"/>)
/// without admitting: a body that passes is still admitted, exactly, by the grain's turn after parsing. Small bodies skip it, since
/// parsing them costs less than the extra store turn.
/// </summary>
internal static class AdmissionPrecheck
{
    /// <summary>Bodies at least this large are checked first.</summary>
    public const int MinBodyBytes = 64 * 1024;

    /// <summary>A refusal that any admission would give right now, or null (also when the store cannot answer).</summary>
    public static async ValueTask<Admission?> RefusalAsync(ITenantGrain grain, double capacityShare)
    {
        try
        {
            return await grain.PrecheckAsync(capacityShare);
        }
        catch (StoreUnavailableException)
        {
            return null; // the admission decides, fail-open or closed as configured
        }
    }
}
