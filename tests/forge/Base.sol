// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";

/// @dev The few forge cheatcodes these tests use (forge-std is not vendored: its npm package is an old,
/// incomplete copy, so we declare the interface ourselves).
interface Vm {
    function warp(uint256 timestamp) external;
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata data) external;
    function expectRevert() external;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function assume(bool condition) external pure;
    function store(address target, bytes32 slot, bytes32 value) external;
}

abstract contract Base {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 internal constant GOVERNOR = 1 << 0;
    uint256 internal constant OPERATOR = 1 << 1;
    uint256 internal constant MANUFACTURER = 1 << 2;
    uint256 internal constant AGGREGATOR = 1 << 3;
    uint256 internal constant TRAINER = 1 << 4;
    uint64 internal constant TTL = 7 days; // chain/deploy.py DEFAULT_PROPOSAL_TTL

    /// @dev `x` mapped into [lo, hi] (both inclusive), uniformly enough for fuzzing.
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: hi < lo");
        return lo + (x % (hi - lo + 1));
    }

    function org(string memory name) internal pure returns (bytes32) {
        return bytes32(bytes(name));
    }

    /// @dev The registry as chain/deploy.py + fedpm/consortium.py bootstrap it: `n` founding governor orgs
    /// (gov-0 .. gov-n-1, accounts vm.addr(1 .. n)), k-of-n threshold, a 7-day proposal TTL.
    function deployRegistry(uint256 n, uint256 k) internal returns (ConsortiumRegistry registry) {
        bytes32[] memory ids = new bytes32[](n);
        string[] memory names = new string[](n);
        uint256[] memory roles = new uint256[](n);
        address[] memory accounts = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            names[i] = string(abi.encodePacked("gov-", bytes1(uint8(48 + i))));
            ids[i] = org(names[i]);
            accounts[i] = governor(i);
        }
        registry = new ConsortiumRegistry(ids, names, roles, accounts, k, TTL);
    }

    function governor(uint256 i) internal pure returns (address) {
        return vm.addr(1 + i);
    }

    /// @dev One of the 4 newest proposals of `registry` (older ones have mostly expired); `any` is false if none.
    function recentProposal(ConsortiumRegistry registry, uint256 seed) internal view returns (bool any, uint256 id) {
        uint256 n = registry.proposalCount();
        if (n == 0) return (false, 0);
        return (true, n - 1 - bound(seed, 0, n < 4 ? n - 1 : 3));
    }

    /// @dev Admit an org by k-of-n vote of the founding governors, as fedpm.consortium.admit does.
    function admit(ConsortiumRegistry registry, uint256 k, bytes32 orgId, uint256 roles, address account) internal {
        vm.prank(governor(0));
        uint256 pid = registry.proposeAddOrg(orgId, "member", roles, account);
        for (uint256 i = 1; i < k; i++) {
            vm.prank(governor(i));
            registry.approve(pid);
        }
        vm.prank(governor(0));
        registry.execute(pid);
    }

    /// @dev A registry (3 governors, 2-of-3) at time 1,000,000 with a manufacturer org "maker" and an operator org
    /// "factory" that runs machine `machineId`, built by "maker" (no device key yet).
    function deployFleet(address maker, address factory, bytes32 machineId) internal returns (ConsortiumRegistry registry) {
        vm.warp(1_000_000);
        registry = deployRegistry(3, 2);
        admit(registry, 2, bytes32("maker"), MANUFACTURER, maker);
        admit(registry, 2, bytes32("factory"), OPERATOR, factory);
        vm.prank(factory);
        registry.registerMachine(machineId, bytes32("maker"), bytes32(0));
    }

    /// @dev Trust `lease` to lock device keys by k-of-n vote, as fedpm.consortium.bootstrap does.
    function trustLease(ConsortiumRegistry registry, uint256 k, address lease) internal {
        vm.prank(governor(0));
        uint256 pid = registry.proposeAddLeaseContract(lease);
        for (uint256 i = 1; i < k; i++) {
            vm.prank(governor(i));
            registry.approve(pid);
        }
        vm.prank(governor(0));
        registry.execute(pid);
    }
}

/// @dev The handler of an invariant test: its actions record the first rule they see broken in `violation`, which the
/// invariant reports (a reverted action is just a rejected one).
abstract contract Handler is Base {
    string public violation;

    function _violate(string memory what) internal {
        if (bytes(violation).length == 0) violation = what;
    }
}
