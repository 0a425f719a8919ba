"""Learning records: completions received from LMSs, and the xAPI statements they produce."""
