using Pmd.Ethdev;

namespace Pmd.Failover;

/// <summary>Pairing: finding the port with the standby's MAC, claiming it, configuring and starting it, and following its link.</summary>
public sealed partial class FailoverPort
{
    private void ScanForPrimary()
    {
        foreach (var port in _registry.Ports)
        {
            if (_primary is not null) return;
            TryPair(port);
        }
    }

    private void OnNewPort(PortEvent e)
    {
        if (_primary is null && _registry.TryGet(e.PortId, out var port)) TryPair(port);
    }

    private void TryPair(EthPort candidate)
    {
        lock (_controlLock)
        {
            if (_primary is not null || State is PortState.Closed) return;
            if (candidate == this || candidate == _standby || candidate.MacAddress != _standby.MacAddress) return;
            if (!_registry.TrySetOwner(candidate.PortId, _owner))
            {
                FailoverLog.OwnedElsewhere(_log, Name, candidate.PortId);
                return;
            }
            _primary = candidate;
            FailoverLog.Paired(_log, Name, candidate.PortId, candidate.Name, candidate.MacAddress);
            if (IsStarted) Activate(candidate);
            else _machine.Move(FailoverState.Paired);
        }
    }

    /// <summary>Replays the port's configuration onto the primary and starts it; TX moves to it if its link is up.</summary>
    private void Activate(EthPort primary)
    {
        lock (_controlLock)
        {
            if (_primary != primary || _machine.State is not (FailoverState.StandbyOnly or FailoverState.Paired)) return;
            _machine.Move(FailoverState.Attaching);
            try
            {
                if (primary.IsStarted) primary.Stop();
                ConfigReplay.Apply(this, primary);
                primary.Start();
            }
            catch (Exception e)
            {
                FailoverLog.StartFailed(_log, e, Name, primary.PortId);
                _registry.UnsetOwner(primary.PortId, _owner);
                _primary = null;
                _machine.Move(FailoverState.StandbyOnly);
                return;
            }
            var config = Config!;
            var txGap = SoftwareOffloads.TxGap(config, primary);
            var rxGap = SoftwareOffloads.RxGap(config, primary);
            if (txGap != TxOffloads.None || rxGap != RxOffloads.None) FailoverLog.SoftwareOffloads(_log, Name, primary.PortId, txGap, rxGap);
            bool up = primary.Link.Up;
            _machine.Move(up ? FailoverState.PrimaryActive : FailoverState.PrimaryLinkDown);
            PublishViews();
            if (up) SwitchedToPrimary(primary);
        }
        ReleasePathWarmup.Start();
    }

    private void SwitchedToPrimary(EthPort primary)
    {
        _counters.SwitchesToPrimary++;
        AnnounceSwitch();
        RaiseEvent(PortEventType.Failover, $"primary port {primary.PortId}");
    }

    /// <summary>A link change of the primary: a switch of TX between it and the standby, never a release.</summary>
    private void OnPrimaryLink(PortEvent e)
    {
        lock (_controlLock)
        {
            var primary = _primary;
            if (primary is null || e.PortId != primary.PortId) return;
            bool up = primary.Link.Up;
            switch (_machine.State)
            {
                case FailoverState.PrimaryActive when !up:
                    FailoverLog.SwitchedToStandby(_log, Name, primary.PortId, "link down");
                    _machine.Move(FailoverState.PrimaryLinkDown);
                    PublishViews();
                    _counters.SwitchesToStandby++;
                    AnnounceSwitch();
                    RaiseEvent(PortEventType.Failover, "standby (primary link down)");
                    break;
                case FailoverState.PrimaryLinkDown when up:
                    FailoverLog.SwitchedToPrimary(_log, Name, primary.PortId);
                    _machine.Move(FailoverState.PrimaryActive);
                    PublishViews();
                    SwitchedToPrimary(primary);
                    break;
            }
        }
    }

    /// <summary>The failover port stops: the primary stops too, but stays paired for the next start.</summary>
    private void StopPrimary()
    {
        lock (_controlLock)
        {
            if (_primary is not { } primary || _machine.State is not (FailoverState.PrimaryActive or FailoverState.PrimaryLinkDown)) return;
            _machine.Move(FailoverState.Paired);
            PublishViews();
            primary.Stop();
        }
    }
}
