"""The faust application: one thin agent per stage, wired from the stage table in topology."""
