
(
xInput"
dtype8"
shape2


1abcTanhx