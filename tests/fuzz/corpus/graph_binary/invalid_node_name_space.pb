
(
xInput"
dtype8"
shape2


a bTanhx