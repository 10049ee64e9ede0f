// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {ConsortiumToken} from "../../contracts/ConsortiumToken.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {IConsortiumToken} from "../../contracts/interfaces/IConsortiumToken.sol";
import {Base, Handler} from "./Base.sol";

/// @dev Random Mint proposals (this registry's token, a token of another registry, zero amounts and addresses),
/// threshold proposals, approvals, executions, direct mint attempts by governors, a member and outsiders, transfers
/// and allowance spends, and time warps, on a registry of 3 founding governors (2-of-3) and its ConsortiumToken.
/// Records the first broken rule in `violation`; `minted` sums what executed Mint proposals of `token` minted.
contract TokenHandler is Handler {
    ConsortiumRegistry public registry;
    ConsortiumToken public token;
    ConsortiumToken public foreign; // the token of another registry: our proposals cannot mint it
    address[] public actors; // 3 governors, a member without GOVERNOR, 2 outsiders
    uint256 public minted;

    constructor() {
        registry = deployRegistry(3, 2);
        token = new ConsortiumToken(registry);
        foreign = new ConsortiumToken(deployRegistry(1, 1));
        for (uint256 i = 0; i < 3; i++) actors.push(governor(i));
        actors.push(vm.addr(50));
        admit(registry, 2, bytes32("factory"), OPERATOR, vm.addr(50));
        actors.push(vm.addr(51));
        actors.push(vm.addr(52));
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function proposeMint(uint256 who, uint256 tok, uint256 to, uint256 amount) external {
        uint256 t = bound(tok, 0, 9);
        address target = t < 8 ? address(token) : t == 8 ? address(foreign) : address(0);
        address recipient = bound(to, 0, 12) == 12 ? address(0) : actors[bound(to, 0, actors.length - 1)];
        _unchanged();
        vm.prank(_actor(who));
        try registry.proposeMint(IConsortiumToken(target), recipient, bound(amount, 0, 1e24)) {} catch {}
        _unchanged();
    }

    function proposeThreshold(uint256 who, uint256 k) external {
        vm.prank(_actor(who));
        try registry.proposeSetThreshold(bound(k, 1, 3)) {} catch {}
    }

    function approve(uint256 who, uint256 pid) external {
        (bool any, uint256 id) = recentProposal(registry, pid);
        if (!any) return;
        vm.prank(_actor(who));
        try registry.approve(id) {} catch {}
        _unchanged();
    }

    function execute(uint256 who, uint256 pid) external {
        (bool any, uint256 id) = recentProposal(registry, pid);
        if (!any) return;
        (IConsortiumRegistry.Proposal memory p,) = registry.proposal(id);
        uint256 supply = token.totalSupply();
        uint256 balance = p.account == address(0) ? 0 : token.balanceOf(p.account);
        vm.prank(_actor(who));
        try registry.execute(id) {
            bool mint = p.kind == IConsortiumRegistry.ProposalKind.Mint && p.token == address(token);
            if (token.totalSupply() != supply + (mint ? p.amount : 0)) _violate("an executed proposal changed the supply by other than its Mint amount");
            if (mint && token.balanceOf(p.account) != balance + p.amount) _violate("a Mint did not credit its recipient");
            if (mint) minted += p.amount;
        } catch {
            if (token.totalSupply() != supply) _violate("a reverted execute changed the supply");
        }
    }

    /// @dev A governor, the member or an outsider calls mint itself: must revert (only the registry mints).
    function directMint(uint256 who, uint256 to, uint256 amount) external {
        address caller = _actor(who);
        vm.prank(caller);
        try token.mint(actors[bound(to, 0, actors.length - 1)], bound(amount, 1, 1e24)) {
            _violate("an account minted without an executed Mint proposal");
        } catch {}
        _unchanged();
    }

    function transfer(uint256 from, uint256 to, uint256 amount) external {
        address a = actors[bound(from, 0, actors.length - 1)];
        vm.prank(a);
        try token.transfer(actors[bound(to, 0, actors.length - 1)], bound(amount, 0, token.balanceOf(a) + 1)) {} catch {}
        _unchanged();
    }

    function spendAllowance(uint256 owner, uint256 spender, uint256 to, uint256 amount) external {
        address o = actors[bound(owner, 0, actors.length - 1)];
        address s = actors[bound(spender, 0, actors.length - 1)];
        uint256 value = bound(amount, 0, token.balanceOf(o) + 1);
        vm.prank(o);
        token.approve(s, value);
        vm.prank(s);
        try token.transferFrom(o, actors[bound(to, 0, actors.length - 1)], value) {} catch {}
        _unchanged();
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 4 days));
    }

    /// @dev Outside execute, the supply is what executed Mint proposals minted.
    function _unchanged() private {
        if (token.totalSupply() != minted) _violate("the supply changed outside an executed Mint proposal");
    }

    /// @dev Mostly a governor (they propose and approve), sometimes the member or an outsider.
    function _actor(uint256 who) private view returns (address) {
        return actors[bound(who, 0, who % 3 == 0 ? actors.length - 1 : 2)];
    }
}

contract ConsortiumTokenInvariantTest is Base {
    TokenHandler internal handler;
    ConsortiumRegistry internal registry;
    ConsortiumToken internal token;

    function setUp() public {
        handler = new TokenHandler();
        registry = handler.registry();
        token = handler.token();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// Total supply == the amounts of this token's executed Mint proposals, read from the registry itself (each
    /// counted once); the handler's running sum agrees; every token sits with an actor; the foreign token is untouched.
    function invariant_supplyChangesOnlyByExecutedMintProposals() public view {
        require(bytes(handler.violation()).length == 0, handler.violation());
        uint256 executedMints = 0;
        for (uint256 id = 0; id < registry.proposalCount(); id++) {
            (IConsortiumRegistry.Proposal memory p,) = registry.proposal(id);
            if (p.executed && p.kind == IConsortiumRegistry.ProposalKind.Mint && p.token == address(token)) executedMints += p.amount;
        }
        require(token.totalSupply() == executedMints, "total supply differs from the executed Mint proposals");
        require(token.totalSupply() == handler.minted(), "total supply differs from what executed Mint proposals minted");
        uint256 held = 0;
        for (uint256 i = 0; i < handler.actorCount(); i++) held += token.balanceOf(handler.actors(i));
        require(held == token.totalSupply(), "balances do not add up to the supply");
        require(handler.foreign().totalSupply() == 0, "a proposal of this registry minted another registry's token");
    }
}

/// @dev The edges: a Mint proposal mints exactly once, at the threshold; nobody but the registry mints.
contract ConsortiumTokenRulesTest is Base {
    ConsortiumRegistry internal registry;
    ConsortiumToken internal token;

    function setUp() public {
        registry = deployRegistry(3, 2);
        token = new ConsortiumToken(registry);
    }

    function test_aMintProposalMintsOnceAtTheThreshold() public {
        vm.prank(governor(0));
        uint256 id = registry.proposeMint(token, vm.addr(70), 5e18);
        vm.prank(governor(0));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.NotEnoughApprovals.selector, id, 1, 2));
        registry.execute(id);
        require(token.totalSupply() == 0, "nothing minted below the threshold");
        vm.prank(governor(1));
        registry.approve(id);
        vm.prank(governor(2));
        registry.execute(id);
        require(token.totalSupply() == 5e18 && token.balanceOf(vm.addr(70)) == 5e18, "minted to the recipient");
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.ProposalAlreadyExecuted.selector, id));
        registry.execute(id);
        require(token.totalSupply() == 5e18, "minted once");
    }

    function test_onlyTheRegistryMints() public {
        for (uint256 i = 0; i < 3; i++) {
            vm.prank(governor(i));
            vm.expectRevert(abi.encodeWithSelector(IConsortiumToken.NotRegistry.selector, governor(i)));
            token.mint(governor(i), 1);
        }
        vm.prank(vm.addr(71));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumToken.NotRegistry.selector, vm.addr(71)));
        token.mint(vm.addr(71), 1);
        require(token.totalSupply() == 0, "no mint outside governance");
    }

    function test_aMintProposalNeedsATokenARecipientAndAnAmount() public {
        vm.startPrank(governor(0));
        vm.expectRevert(IConsortiumRegistry.ZeroAddress.selector);
        registry.proposeMint(IConsortiumToken(address(0)), vm.addr(70), 1);
        vm.expectRevert(IConsortiumRegistry.ZeroAddress.selector);
        registry.proposeMint(token, address(0), 1);
        vm.expectRevert(IConsortiumRegistry.ZeroAmount.selector);
        registry.proposeMint(token, vm.addr(70), 0);
        vm.stopPrank();
        vm.prank(vm.addr(50)); // no member at all
        vm.expectRevert();
        registry.proposeMint(token, vm.addr(70), 1);
    }
}
