"""Positions (岗位), courses per position and year, lessons and enrolments."""
