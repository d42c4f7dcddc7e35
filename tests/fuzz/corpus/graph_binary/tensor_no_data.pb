
!
w	Parameter"
valueB