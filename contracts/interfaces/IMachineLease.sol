// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Pay-per-use machine leases settled from device-signed cumulative usage counters
/// @notice A manufacturer offers a machine with a tariff; the machine's operator accepts and deposits tokens;
/// readings signed (EIP-712) by the machine's device key are charged from the deposit; the manufacturer pulls its
/// earnings; the operator closes with a fresh final reading and pulls the remainder after a dispute window.
/// From accept to close the lease locks the machine's device keys in the ConsortiumRegistry: the manufacturer (who
/// provisions the keys) changes them only with the lessee's approval, and the lessee cannot change them at all.
///
/// Usage counters are cumulative and expressed in milli-units of the tariff unit (1/1000 operating hour,
/// 1/1000 part, Wh for kWh): `UNIT_SCALE` = 1000 counter ticks make one priced unit.
///
/// Deposit exhaustion: a reading is charged up to what is left of the deposit; the rest of its (capped) amount is
/// recorded as `unpaid` and the lease becomes Paused (LeasePaused). Readings are still accepted while paused (the
/// counter is the truth; the gateway should stop the machine), and their amounts add to `unpaid`. A top-up first
/// settles `unpaid` and resumes the lease (LeaseResumed) once nothing is owed and some deposit is left.
interface IMachineLease {
    /// @notice What one unit of the tariff measures (KOSMoS tariff `unit`).
    enum Unit {
        OperatingHour,
        Part,
        KWh
    }

    enum Status {
        None,
        Offered,
        Active,
        Paused,
        Closing,
        Closed,
        Cancelled
    }

    /// @notice A tariff shaped after the KOSMoS tariff specification; currency is the lease's token.
    /// @param unitPrice Token base units per whole unit (UNIT_SCALE counter ticks).
    /// @param cap Maximum charge per `capPeriod` seconds (counted from the lease start), or for the whole lease
    /// when `capPeriod` is 0; 0 means no cap. Usage above the cap is free (reported in UsageCharged.waived).
    /// @param validUntil End of the term (unix seconds): no acceptance or top-up after it; either party may close.
    struct Tariff {
        bytes32 tariffId;
        Unit unit;
        uint128 unitPrice;
        uint128 minDeposit;
        uint128 cap;
        uint64 capPeriod;
        uint64 validUntil;
    }

    /// @notice What a device signs (EIP-712 domain "fedpm MachineLease", version "1", this contract).
    /// `readAt` (device clock, unix seconds) acts as the report nonce: it must grow strictly.
    struct UsageReport {
        uint256 leaseId;
        bytes32 machineId;
        uint256 counter;
        uint64 readAt;
    }

    struct LeaseInfo {
        bytes32 machineId;
        bytes32 ownerOrg;
        bytes32 lesseeOrg;
        Status status;
        Tariff tariff;
        uint64 startedAt;
        uint64 closedAt;
        uint64 lastReadAt;
        uint256 lastCounter;
        uint256 deposited;
        uint256 charged;
        uint256 withdrawn;
        uint256 refunded;
        uint256 unpaid;
        uint256 period;
        uint256 periodCharged;
        address owner; // the account that offered: may still withdraw earnings after the owner org leaves
        address lessee; // the account that paid the deposit: may still claim the refund after the lessee org leaves
    }

    // --- errors (and IConsortiumErrors: NotMember, MissingRole, UnknownMachine, NotManufacturer, UnknownDevice,
    // DeviceOfAnotherMachine, DeviceNotActive, DeviceNotValidAt, NotLeaseContract, MachineLocked, RotationScheduled) ---
    error UnknownLease(uint256 leaseId);
    error WrongStatus(uint256 leaseId, Status status);
    error NotLessee(uint256 leaseId, address account);
    error NotLeaseOwner(uint256 leaseId, address account);
    error MachineLeased(bytes32 machineId, uint256 leaseId);
    error InvalidTariff(string reason);
    error DepositTooLow(uint256 amount, uint256 minDeposit);
    error ZeroAmount();
    error TermEnded(uint256 leaseId, uint64 validUntil);
    error TermNotEnded(uint256 leaseId, uint64 validUntil);
    error WrongLease(uint256 leaseId, uint256 reportLeaseId, bytes32 reportMachineId);
    error CounterRollback(uint256 counter, uint256 lastCounter);
    error StaleReading(uint64 readAt, uint64 lastReadAt);
    error FutureReading(uint64 readAt, uint64 blockTime);
    error ReadingAfterClose(uint64 readAt, uint64 closedAt);
    /// @notice A final reading taken at `readAt` is older than `oldestAllowed` (FINAL_READING_MAX_AGE before the close).
    error StaleFinalReading(uint64 readAt, uint64 oldestAllowed);
    error DisputeWindowOpen(uint256 leaseId, uint64 endsAt);
    error DisputeWindowClosed(uint256 leaseId, uint64 endedAt);
    error NothingToWithdraw(uint256 leaseId);

    // --- events ---
    event LeaseOffered(uint256 indexed leaseId, bytes32 indexed machineId, bytes32 indexed ownerOrg, address owner, Tariff tariff);
    event OfferCancelled(uint256 indexed leaseId);
    event LeaseAccepted(uint256 indexed leaseId, bytes32 indexed lesseeOrg, address indexed lessee, uint256 deposit, uint256 openingCounter, uint64 openingReadAt);
    /// @param usage Counter increase (milli-units); amount Charged from the deposit; waived Above the cap;
    /// unpaid Added to the debt because the deposit ran out.
    event UsageCharged(uint256 indexed leaseId, address indexed device, uint256 counter, uint256 usage, uint64 fromReadAt, uint64 readAt, uint256 amount, uint256 waived, uint256 unpaid);
    event LeasePaused(uint256 indexed leaseId, uint256 unpaid);
    event LeaseResumed(uint256 indexed leaseId);
    /// @param settled Part of `amount` that paid outstanding usage (it counts as charged).
    event ToppedUp(uint256 indexed leaseId, address indexed from, uint256 amount, uint256 settled);
    event EarningsWithdrawn(uint256 indexed leaseId, address indexed to, uint256 amount);
    event LeaseClosing(uint256 indexed leaseId, address indexed by, uint64 closedAt, uint64 disputeEndsAt);
    event Refunded(uint256 indexed leaseId, address indexed to, uint256 amount);

    // --- actions ---
    function offer(bytes32 machineId, Tariff calldata tariff) external returns (uint256 leaseId);

    function cancelOffer(uint256 leaseId) external;

    function accept(uint256 leaseId, uint256 deposit, UsageReport calldata opening, bytes calldata signature) external;

    function reportUsage(UsageReport calldata report, bytes calldata signature) external;

    function topUp(uint256 leaseId, uint256 amount) external;

    function withdraw(uint256 leaseId) external returns (uint256 amount);

    function close(uint256 leaseId, UsageReport calldata finalReading, bytes calldata signature) external;

    function claimRefund(uint256 leaseId) external returns (uint256 amount);

    // --- views ---
    function lease(uint256 leaseId) external view returns (LeaseInfo memory);

    function leaseCount() external view returns (uint256);

    function activeLease(bytes32 machineId) external view returns (uint256);

    /// @notice Tokens the contract holds for `leaseId`: deposited - withdrawn - refunded.
    function held(uint256 leaseId) external view returns (uint256);

    /// @notice Deposit not yet charged or refunded: deposited - charged - refunded.
    function available(uint256 leaseId) external view returns (uint256);

    function usageDigest(UsageReport calldata report) external view returns (bytes32);
}
