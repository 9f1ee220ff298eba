using RelayCluster.Core.Tenants;

namespace RelayCluster.Silo.Telemetry;

/// <summary>The <c>relay.refusal.reason</c> label of a refused admission: a fixed set, one per outcome.</summary>
internal static class RefusalReasons
{
    public static string For(AdmissionOutcome outcome) => outcome switch
    {
        AdmissionOutcome.RequestsPerMinuteExceeded => "rpm",
        AdmissionOutcome.TokensPerMinuteExceeded => "tpm",
        AdmissionOutcome.RequestLargerThanTokenLimit => "tpm_request_too_large",
        AdmissionOutcome.ConcurrencyExceeded => "concurrency",
        AdmissionOutcome.BudgetExceeded => "budget",
        AdmissionOutcome.Paused => "paused",
        AdmissionOutcome.ReservationOutOfRange => "out_of_range",
        _ => "other", // an outcome added later: still one bounded value
    };
}
