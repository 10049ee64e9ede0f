"""Dynamic leasing: pay-per-use machine leases settled by contract from device-signed usage counters.

A manufacturer (MANUFACTURER org) offers a machine it built with a tariff; the factory operating it (OPERATOR
org) accepts and deposits tokens; the machine's registered device signs cumulative usage counters (EIP-712),
anyone submits them, and `MachineLease` charges the increase; the manufacturer pulls its earnings; the factory
closes with a final reading and pulls the remainder after a dispute window. Both sides read the same events:
the invoice (`invoice.py`) is rebuilt from them alone and reconciles to the token balance the contract holds.

Why settle in an ERC-20 consortium token (`ConsortiumToken`) rather than the chain's native currency:
- a permissioned consortium chain runs at zero gas price and has no native-currency economy (ether is not
  issued to members and means nothing there);
- every mint and transfer is an ERC-20 `Transfer` event, so amounts are auditable from logs alone;
- the governors (k-of-n in the registry) control supply, e.g. against an off-chain fiat settlement;
- approve/transferFrom and pull payments give clean accounting without payable functions or ether transfers.

Modules: `tariff` (KOSMoS-shaped tariff and billing dataclasses, JSON, the `Unit` and `LeaseStatus` mirrors),
`usage` (EIP-712 usage reports: build, sign, verify, files), `invoice` (the statement folded from events, pure),
`client` (the MachineLease and ConsortiumToken clients), `demo` (one lease from offer to invoice).
"""
